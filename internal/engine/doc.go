// Package engine runs a grading pipeline definition against one delivery:
// it orders the stages by their dependencies, runs each command through a
// sandbox, judges outputs (in Go, or with the assignment's checker), keeps
// the full outputs as artifacts and scores the steps with
// definition.Score.
//
// States. A step succeeds when its command exits 0 within its limits and
// its output is accepted; fails when the student's work is wrong (non-zero
// exit, crash by signal, wrong output, a program path that does not exist,
// rejection by the checker); ends in error when it could not be judged
// normally (timeout, a resource or output limit, a program missing on the
// worker, a sandbox or checker fault); and is skipped, with no exit code and
// no output, when a dependency did not succeed. How errors count is
// definition.Score's business.
//
// Environment. When the definition names an environment, the caller passes
// its sealed file system as Input.RootFS: every command, checkers included,
// runs with that image as its root instead of the worker's toolchain, and
// programs are looked up in the image.
//
// Isolation. Every command runs in a sandbox container with a scrubbed
// environment (PATH, HOME=scratch directory, LANG=C.UTF-8 and the
// definition's variables) in the scratch directory. Assignment files that
// are visible_to_student are placed in the tree before every stage; files a
// stage lists that are not are mounted read-only for that stage only. Only
// the single run of a visible stage keeps what it wrote; scenarios run on a
// throw-away copy. Expected outputs are compared in Go; a checker runs in a
// private directory after all of its stage's student commands have ended,
// and gives credit only through its verdict file ($ZINC_VERDICT).
package engine
