// Command tinyrt is the whole user space of the images environment tests
// build: one static program that is /bin/sh (just enough of a shell to be
// the sandbox's first process: sh -c SCRIPT NAME ARGV... runs ARGV as its
// child and exits with its status, 128+N for a death by signal N) and,
// under any other name, a toolbox:
//
//	probe PATH...  prints "PATH present" or "PATH absent" for each
//	write PATH     creates PATH and prints "ok" or the error
//	id             prints the user id
//	cat PATH       prints the file
//	term           dies of SIGTERM
//	calc FILE      reads an operation (add or mul) from FILE, two integers
//	               from stdin, and prints the result: a tiny "language"
//	               whose programs are student deliveries
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if filepath.Base(os.Args[0]) == "sh" {
		os.Exit(shell(os.Args[1:]))
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tinyrt probe|write|id|cat|term|calc ...")
		os.Exit(2)
	}
	os.Exit(tool(os.Args[1], os.Args[2:]))
}

// shell runs "-c SCRIPT NAME ARGV..." as the sandbox's init script does:
// ARGV as a child, its status as the shell's.
func shell(args []string) int {
	if len(args) < 3 || args[0] != "-c" {
		fmt.Fprintln(os.Stderr, "sh: only sh -c SCRIPT NAME ARGV... is supported")
		return 2
	}
	argv := args[3:]
	if len(argv) == 0 {
		return 0
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	fmt.Fprintln(os.Stderr, "sh:", err)
	return 127
}

func tool(name string, args []string) int {
	switch name {
	case "probe":
		for _, p := range args {
			state := "present"
			if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				state = "absent"
			}
			fmt.Println(p, state)
		}
	case "write":
		f, err := os.Create(args[0])
		if err != nil {
			fmt.Println(err)
			return 1
		}
		_ = f.Close()
		fmt.Println("ok")
	case "id":
		fmt.Println(os.Getuid())
	case "cat":
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_, _ = os.Stdout.Write(b)
	case "calc":
		return calc(args[0])
	case "term":
		// Without a handler the runtime dies of the signal itself.
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {}
	default:
		fmt.Fprintln(os.Stderr, "unknown tool", name)
		return 2
	}
	return 0
}

func calc(program string) int {
	src, err := os.ReadFile(program)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var a, b int
	if _, err := fmt.Fscan(os.Stdin, &a, &b); err != nil {
		fmt.Fprintln(os.Stderr, "read input:", err)
		return 1
	}
	switch op := strings.TrimSpace(string(src)); op {
	case "add":
		fmt.Println(a + b)
	case "mul":
		fmt.Println(a * b)
	default:
		fmt.Fprintf(os.Stderr, "unknown operation %q\n", op)
		return 1
	}
	return 0
}
