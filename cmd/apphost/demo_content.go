package main

import "github.com/zinc-edu/orchestrator/internal/demo"

// demoContent supplies the demo assignment for --demo from internal/demo.
func demoContent() (string, []delivery, error) {
	configYAML, ds := demo.Assignment()
	out := make([]delivery, len(ds))
	for i, d := range ds {
		out[i] = delivery(d)
	}
	return configYAML, out, nil
}
