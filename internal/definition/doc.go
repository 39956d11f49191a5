// Package definition parses, validates and scores ZINC grading pipeline
// definitions. It is pure: it never runs a process or touches a file, so
// the API can validate an upload and the worker can score a run with the same
// code.
//
// # Format
//
// A definition is one YAML mapping. Unknown fields are errors.
//
// Version 1 (the foundation's shape, still accepted unchanged):
//
//	version: 1
//	name: hello
//	stages:                      # run in order
//	  - name: build              # [A-Za-z0-9_.-]+, unique
//	    command: [gcc, -o, hello, hello.c]   # argv; no shell unless it says sh -c
//	    timeout: 10s             # Go duration, default 10s
//	  - name: run
//	    command: [./hello]
//	    stdin: "World\n"
//	    expected_stdout: "Hello, World\n"
//	    points: 5                # default 0
//
// A version 1 stage passes when it exits 0 within its timeout and, when
// expected_stdout is set, its output matches after CRLF becomes LF and
// trailing blanks and trailing empty lines are dropped. A stage is skipped
// when an earlier stage with points 0 (a compile, say) did not pass; a failed
// stage with points does not stop later stages. The score is the sum of the
// points of passed stages, the maximum the sum of all points.
//
// Version 2 accepts all of the above and adds:
//
//	defaults:                    # inherited by every stage
//	  timeout: 5s
//	  cpu_seconds: 5             # 0 or absent: the sandbox's default
//	  memory_mb: 256
//	  max_processes: 32
//	  max_file_mb: 16
//	  open_files: 64
//	  output_limit_bytes: 1048576
//	  network: false             # default false
//	files:                       # assignment files
//	  - name: tests/in1.txt      # relative path, segments [A-Za-z0-9_.-]+
//	    content: "1 2\n"         # inline bytes, or:
//	  - name: checker.py
//	    source: upload           # bytes come with the config upload
//	    visible_to_student: false   # default false
//	    executable: false        # copied with mode 0755 when true
//	stages:
//	  - name: build
//	    kind: compile            # language c|cpp|python|java, sources, output, flags
//	    language: c
//	    sources: [main.c]
//	    output: main             # default a.out (java: class directory, default .)
//	    flags: [-Wall]
//	  - name: tests
//	    kind: diff               # every run must have an expected output
//	    depends_on: [build]      # default: the previous stage; [] for none
//	    command: [./main]
//	    env: {MODE: test}        # added to PATH, HOME and LANG
//	    workdir: .               # relative, no ".."
//	    timeout: 2s
//	    limits: {memory_mb: 64}  # overrides defaults
//	    files: [tests/in1.txt]   # copied into the scratch directory for this stage
//	    parallelism: 4           # scenarios run at once, 1..16, default 4
//	    visibility: visible      # visible | hidden | after_due | after_stop
//	    compare: {ignore_case: true}   # default for the scenarios
//	    scenarios:
//	      - name: small
//	        args: [--fast]       # appended to command
//	        stdin_file: tests/in1.txt  # or stdin
//	        expected: "3\n"      # or expected_file
//	        compare: {numeric_tolerance: 0.001}  # replaces the stage's compare
//	        timeout: 1s
//	        visibility: hidden
//	  - name: judge
//	    kind: checker
//	    command: [./main]
//	    checker: {command: [python3, checker.py], files: [checker.py], timeout: 5s}
//	    scenarios: [...]
//	  - name: memcheck
//	    kind: valgrind           # flags are extra valgrind options
//	    command: [./main]
//	rubric:
//	  limit_errors: ungraded     # or zero: timeouts and limits then score 0
//	  components:
//	    - name: correctness
//	      from: tests            # a stage
//	      scenarios: "*"         # or a list of names; default "*"
//	      max_score: 60
//	      points: 10             # each; default: max_score split equally
//	      points_per_scenario: {small: 20}
//	      mode: sum              # or all_or_nothing
//	  total: {max_score: 100, normalize_to: 20, min: 0, max: 20}
//
// In version 2 a stage depends on the previous stage unless depends_on says
// otherwise, and it runs only when every dependency succeeded. A stage with
// scenarios cannot set stdin, stdin_file or expected itself. points still
// apply when there is no rubric (split equally among a stage's scenarios) and
// are ignored when there is one.
//
// # Shorthand kinds
//
// Every kind expands at load time to a plain command, so there is one way
// to run a stage:
//   - compile, c: gcc -O2 -std=c11 -o OUTPUT SOURCES... FLAGS... -lm;
//     cpp: the same with g++ and -std=c++17; python: python3 -m py_compile
//     SOURCES...; java: javac -d OUTPUT FLAGS... SOURCES....
//   - diff: the command as written; every run must have an expected output.
//   - checker: the command as written; instead of a comparison, the checker
//     judges each run that exited 0 (see below).
//   - valgrind: valgrind --quiet --error-exitcode=99 --leak-check=full
//     --errors-for-leak-kinds=definite --child-silent-after-fork=yes FLAGS...
//     COMMAND...; exit status 99 means valgrind reported errors. A stage
//     whose program (gcc, g++, python3, javac, valgrind) is missing on the
//     worker ends in error, not failure.
//
// # Comparison
//
// Without options the output matches when it equals the expected output
// line by line after CRLF becomes LF, trailing blanks of each line are
// dropped and trailing empty lines are dropped (ignore_trailing_space, on by
// default). exact compares bytes and excludes every other option;
// ignore_all_space removes blanks inside lines; ignore_blank_lines drops
// blank lines; ignore_case folds case; numeric_tolerance compares lines
// token by token and accepts numbers within the tolerance, absolute or
// relative to the expected number; regex treats the expected output as an RE2
// pattern that must match the whole normalised output.
//
// # Checker protocol
//
// The checker runs in a private directory holding its files and three
// inputs, and is called as COMMAND... input expected actual. Exit status 0
// means pass, 1 means fail, anything else (or a timeout) is an error of the
// checker, which leaves the delivery ungraded. Credit is given out of band:
// a line "points: X" in the file named by $ZINC_VERDICT, with X between 0
// and 1, gives partial credit on exit 0 (the share of the scenario's worth
// earned, values outside clamped; below 1 the step counts as failed). Exit 1
// earns nothing, whatever the file says. Stdout is feedback only, shown as
// the step's message: the student's output the checker may quote can never
// carry credit. A run that did not exit 0 fails without
// calling the checker.
//
// # Validation
//
// Parse reports every problem at once, each with a path such as
// "stages[2].scenarios[1].timeout" and a message, in a *ValidationError.
package definition
