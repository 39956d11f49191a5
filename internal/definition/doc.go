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
//	    timeout: 10s             # Go duration or seconds (10, 0.5), default 10s
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
//	  - name: tests/in1.txt      # relative path, segments [A-Za-z0-9_.-]+; unique, and
//	                             # never the directory of another file
//	    content: "1 2\n"         # inline bytes, or:
//	  - name: checker.py
//	    source: upload           # bytes come with the config upload
//	  - name: tests.tar.gz       # an uploaded .tar.gz, .tgz or .zip is unpacked:
//	    source: upload           # its files become assignment files (an archive
//	                             # among them stays a file)
//	    visible_to_student: false   # default false
//	    executable: false        # copied with mode 0755 when true
//	stages:
//	  - name: build
//	    kind: compile            # language c|cpp|python|java, sources, output, flags
//	    language: c
//	    sources: [main.c]
//	    output: main             # default a.out (java: class directory, default .)
//	    flags: [-Wall]
//	  - name: build2
//	    kind: compile
//	    command: [cc, main.c, -o, main, -lm]   # used as written; flags still append
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
//	    exit_status: must_be_zero      # or ignore, an integer, {expected: N}
//	    scenarios:
//	      - name: small
//	        args: [--fast]       # appended to command
//	        stdin_file: tests/in1.txt  # or stdin
//	        expected: "3\n"      # or expected_file
//	        compare: {numeric_tolerance: 0.001}  # replaces the stage's compare
//	        timeout: 1s
//	        exit_status: 3       # replaces the stage's
//	        visibility: hidden
//	  - name: blackbox
//	    command: [./main]
//	    scenarios_from:          # one scenario per matching assignment file
//	      glob: "tests/blackbox/*.in"        # its stdin; scenario name: the stem
//	      expected: "{dir}/{stem}.out"       # its expected output
//	      points: 1              # each, when there is no rubric
//	  - name: judge
//	    kind: checker
//	    command: [./main]
//	    checker: {command: [python3, checker.py], files: [checker.py], timeout: 5s}
//	    # protocol: batch runs the checker once for the whole stage
//	    scenarios: [...]
//	  - name: memcheck
//	    kind: valgrind           # flags are extra valgrind options
//	    command: [./main]
//	rubric:
//	  limit_errors: zero         # default: a timeout or limit fails the scenario;
//	                             # ungraded leaves the delivery without a score
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
// are ignored when there is one. Every points and score value (a stage's
// points, scenarios_from's included, and every number of the rubric) is at
// most MaxPoints (1,000,000).
//
// Anchors and aliases may share settings between stages, merge keys
// included ("<<: *common"); a document whose expansion would exceed
// MaxExpandedNodes nodes is refused.
//
// scenarios_from matches its glob (path.Match, "*" stays within one
// directory) against the assignment files, inline, uploaded or unpacked
// from an archive, and orders the matches naturally (2 before 10). Each
// scenario takes the match as stdin_file, the expected pattern with {dir}
// (the match's directory) and {stem} (its base name without the last
// extension) as expected_file, and the stage's timeout, compare and
// exit_status. Scenarios listed under scenarios come first.
//
// # Environment
//
// Both versions accept, at the top level,
//
//	environment: {image: python-3.12}   # an environment uploaded with POST /v1/environments
//
// Every command of the pipeline, checkers included, then runs with that
// image's file system as its read-only root instead of the worker's
// toolchain; PATH, HOME and LANG stay as above. Without environment the
// worker's toolchain is the root. The name is resolved when the config is
// stored (an unknown name is a problem at environment.image), and the
// stored config keeps the digest of the image it was resolved to.
//
// # Exit status
//
// exit_status says how a run must end: must_be_zero (the default), ignore
// (only the comparison or the checker judges, a run ended by a signal
// included; a timeout or a limit still fails it), or a given status (43, or
// {expected: 43}). A run that fails its rule fails without being compared
// or sent to a checker.
//
// # Shorthand kinds
//
// Every kind expands at load time to a plain command, so there is one way
// to run a stage:
//   - compile: command, when given, is run as written with FLAGS...
//     appended, and language and sources are optional. Otherwise the
//     default per language: c: gcc -O2 -std=c11 -o OUTPUT SOURCES...
//     FLAGS... -lm; cpp: g++ -O2 -std=c++17 -o OUTPUT SOURCES... FLAGS...
//     -lm; python (byte-compile): python3 -m py_compile SOURCES...; java:
//     javac -d OUTPUT FLAGS... SOURCES.... The command a compile step ran is
//     recorded in its step.
//   - diff: the command as written; every run must have an expected output.
//   - checker: the command as written; instead of a comparison, the checker
//     judges each run that passed its exit_status rule (see below).
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
// relative to the expected number (numbers in decimal notation: "8", "+8.0"
// and "8e0" are numbers, "0x1p3", "1_000", "NaN" and "Inf" are text); regex: true treats the expected output as
// an RE2 pattern that must match the whole normalised output.
//
// Rules evaluated in Go, without a process:
//   - regex: "PATTERN" searches the actual stdout for an RE2 pattern in
//     multi-line mode (^ and $ match at line breaks, but the end of an
//     output whose last line ends in a line break starts no empty line of
//     its own); {expected} in it stands for the expected output, trimmed
//     and regex-escaped: regex: "^Result: {expected}$".
//   - contains: "TEXT" (or true, meaning "{expected}") requires the text in
//     the actual stdout, {expected} standing for the trimmed expected output.
//   - tokens: true compares whitespace-separated tokens wherever the line
//     breaks fall; with numeric_tolerance, numbers within it are equal.
//
// A regex or contains rule that does not mention {expected} needs no
// expected output. ignore_case applies to all three. Like the actual
// output, the expected output has its CRLF line breaks turned into LF
// before a rule or a regex: true pattern uses it. A rule that a blank
// expected output leaves empty ("{expected}" with expected: "") would
// accept any output, so it is refused, and a pattern must still compile
// once {expected} is replaced: where the expected output is known when the
// config is stored, as a problem at expected or expected_file; an uploaded
// expected file, when the run is judged, as an error of the step.
//
// Patterns are matched in the worker, outside the sandbox, so their work is
// bounded: a pattern (regex: true, or a regex rule once {expected} is
// replaced) compiles to at most 65,536 RE2 instructions, and a run whose
// output is longer than 2^27 bytes divided by the pattern's instructions
// fails ("output of N bytes is too long to be matched against this
// pattern"). "^sum = {expected}$" reads several MiB; a pattern of a few
// thousand instructions, some tens of KiB.
//
// # Checker protocol
//
// protocol: files (the default): the checker runs in a private directory holding its files and three
// inputs, and is called as COMMAND... input expected actual. Exit status 0
// means pass, 1 means fail, anything else (or a timeout) is an error of the
// checker, which leaves the delivery ungraded. Credit is given out of band:
// a line "points: X" in the file named by $ZINC_VERDICT, with X between 0
// and 1, gives partial credit on exit 0 (the share of the scenario's worth
// earned, values outside clamped; below 1 the step counts as failed). Exit 1
// earns nothing, whatever the file says. Stdout is feedback only, shown as
// the step's message: the student's output the checker may quote can never
// carry credit. A run that failed its exit_status rule fails without
// calling the checker.
//
// protocol: batch: the checker is started once per stage, in the same
// private directory, as COMMAND.... Its stdin holds one JSON object per
// line, one per run that passed its exit_status rule:
//
//	{"scenario": "2", "input": "...", "expected": "...", "actual": "...", "exit_code": 0}
//
// (exit_code null when the run was killed by a signal). It writes one line
// per scenario on stdout, in any order:
//
//	{"scenario": "2", "pass": true, "score": 0.5, "message": "..."}
//
// score (0..1, clamped) and message are optional; score is partial credit
// and message the step's feedback. A pass with a score below 1 has not
// fully passed: an all_or_nothing component gives it nothing. The checker must exit 0; any other exit,
// a timeout (the checker timeout times the number of runs, at most 1h; its
// output cap is likewise the stage's times the number of runs plus one, so
// verdicts may quote every run's output), an unreadable line, a scenario without a verdict, two verdicts for one
// scenario or a verdict for a scenario it was not sent is an error of the
// checker, which leaves those steps in error and the delivery ungraded.
// Since the checker read every run, its failure message (which may quote
// any run's input, expected or actual output) is kept only on the runs
// students see last (hidden, then after_stop, after_due, visible); the
// others say that the checker failed.
//
// # Validation
//
// Parse reports every problem at once, each with a path such as
// "stages[2].scenarios[1].timeout" and a message, in a *ValidationError.
package definition
