package definition

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// unpackArchives replaces each archive in Files whose content is known by
// the files it held, uploaded files that keep the archive's flags. An
// archive among them is one of those files, never unpacked in turn.
func (d *Definition) unpackArchives(archives map[string][]string) {
	if archives == nil {
		return
	}
	var files []File
	for _, f := range d.Files {
		names, ok := archives[f.Name]
		if !f.IsArchive() || !ok {
			files = append(files, f)
			continue
		}
		for _, name := range names {
			files = append(files, File{Name: name, Upload: true, VisibleToStudent: f.VisibleToStudent, Executable: f.Executable, Unpacked: true})
		}
	}
	d.Files = files
}

// pendingArchive reports whether an archive's content is still unknown.
func (d *Definition) pendingArchive() bool {
	return slices.ContainsFunc(d.Files, File.IsArchive)
}

// expandSources turns every stage's scenarios_from into scenarios, unless
// an archive's content is still unknown.
func (d *Definition) expandSources(ps *problems) {
	if d.pendingArchive() {
		return
	}
	for i := range d.Stages {
		s := &d.Stages[i]
		if s.ScenariosFrom == nil || s.ScenariosFrom.Glob == "" {
			continue
		}
		d.expandSource(ps, fmt.Sprintf("stages[%d].scenarios_from", i), s)
	}
}

func (d *Definition) expandSource(ps *problems, at string, s *Stage) {
	src := s.ScenariosFrom
	// Whatever goes wrong is reported below at; "not expanded" would
	// repeat it.
	ps.markBad(at)
	var matches []string
	for _, f := range d.Files {
		ok, err := path.Match(src.Glob, f.Name)
		if err != nil {
			ps.report(at+".glob", "invalid pattern: %v", err)
			return
		}
		if ok {
			matches = append(matches, f.Name)
		}
	}
	if len(matches) == 0 {
		ps.report(at+".glob", "matches no assignment file")
		return
	}
	slices.SortFunc(matches, NaturalCompare)
	// A generated scenario's name problem is reported here, at the glob: the
	// scenarios it would be reported at are not in the author's file.
	taken := map[string]bool{}
	for _, sc := range s.Scenarios {
		taken[sc.Name] = true
	}
	for _, m := range matches {
		dir, base := path.Split(m)
		stem := strings.TrimSuffix(base, path.Ext(base))
		if msg := nameProblem(stem); msg != "" {
			ps.report(at+".glob", "%q gives the scenario name %q: %s", m, stem, msg)
			return
		}
		if taken[stem] {
			ps.report(at+".glob", "%q gives the scenario name %q, which another scenario of the stage has", m, stem)
			return
		}
		taken[stem] = true
		sc := Scenario{
			Name:       stem,
			StdinFile:  m,
			Timeout:    s.Timeout,
			ExitStatus: s.ExitStatus,
			Visibility: s.Visibility,
			Points:     src.Points,
		}
		if src.Expected != "" {
			want := strings.NewReplacer("{dir}", strings.TrimSuffix(dir, "/"), "{stem}", stem).Replace(src.Expected)
			want = strings.TrimPrefix(want, "/")
			if _, ok := d.File(want); !ok {
				ps.report(at+".expected", "no expected output %q for %q", want, m)
				return
			}
			sc.Expected = &Expected{File: want, Compare: src.Compare}
		} else if src.Compare.Standalone() {
			sc.Expected = &Expected{Compare: src.Compare}
		}
		s.Scenarios = append(s.Scenarios, sc)
	}
	s.Points += src.Points * float64(len(matches))
	s.ScenariosFrom = nil
}

// NaturalCompare orders names as people read them: runs of digits compare
// by their value, so "2.in" comes before "10.in".
func NaturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			if c := da - db; c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
