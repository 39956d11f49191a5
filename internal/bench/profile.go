package bench

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Components a CPU sample is charged to, in the order they are tried: a
// stack goes to the first whose rule matches any of its frames, so grading
// work that reaches SQLite counts as grading, and server work as server.
const (
	CompGradeStore    = "grading: store"
	CompGradeBucket   = "grading: bucket + archive"
	CompGradeOther    = "grading: other"
	CompServerPersist = "server: persistence"
	CompServerHistory = "server: history"
	CompServerOther   = "server: matching, frontend, other"
	CompSDK           = "SDK workers"
	CompTransport     = "gRPC + protobuf"
	CompGC            = "GC"
	CompOther         = "other"
)

// Frames that mark grading work and server work.
const (
	grader               = "extensions/pipeline.(*Grader)"
	temporalServerPrefix = "go.temporal.io/server/"
)

// Components lists every component in table order.
func Components() []string {
	return []string{
		CompGradeStore, CompGradeBucket, CompGradeOther,
		CompServerPersist, CompServerHistory, CompServerOther,
		CompSDK, CompTransport, CompGC, CompOther,
	}
}

// Breakdown is a CPU profile's time by component.
type Breakdown struct {
	Total time.Duration
	By    map[string]time.Duration
}

// Share is a component's fraction of the profile's total.
func (b Breakdown) Share(component string) float64 {
	return Ratio(float64(b.By[component]), float64(b.Total))
}

// classify names the component a stack (function names, any order) is
// charged to.
func classify(stack []string) string {
	some := func(pred func(string) bool) bool {
		for _, f := range stack {
			if pred(f) {
				return true
			}
		}
		return false
	}
	has := func(s string) bool { return some(func(f string) bool { return strings.Contains(f, s) }) }
	prefix := func(p string) bool { return some(func(f string) bool { return strings.HasPrefix(f, p) }) }
	switch {
	case prefix("runtime.gcBgMarkWorker"), prefix("runtime.bgsweep"), prefix("runtime.bgscavenge"):
		return CompGC
	case has(grader) && has("/internal/store."):
		return CompGradeStore
	case has(grader) && (prefix("gocloud.dev/") || has("/internal/archive.")):
		return CompGradeBucket
	case has(grader):
		return CompGradeOther
	case prefix(temporalServerPrefix) && (prefix(temporalServerPrefix+"common/persistence") || prefix("modernc.org/sqlite")):
		return CompServerPersist
	case prefix(temporalServerPrefix + "service/history"):
		return CompServerHistory
	case prefix(temporalServerPrefix):
		return CompServerOther
	case prefix("go.temporal.io/sdk"):
		return CompSDK
	case prefix("google.golang.org/grpc"), prefix("golang.org/x/net/http2"), prefix("google.golang.org/protobuf"):
		return CompTransport
	default:
		return CompOther
	}
}

// BreakdownOf reads a CPU profile written by runtime/pprof and charges
// every sample's CPU time to a component.
func BreakdownOf(path string) (Breakdown, error) {
	f, err := os.Open(path)
	if err != nil {
		return Breakdown{}, fmt.Errorf("open profile: %w", err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return Breakdown{}, fmt.Errorf("read profile %s: %w", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return Breakdown{}, fmt.Errorf("read profile %s: %w", path, err)
	}
	p, err := decodeProfile(data)
	if err != nil {
		return Breakdown{}, fmt.Errorf("decode profile %s: %w", path, err)
	}
	return p.breakdown()
}

// profile is the part of profile.proto a breakdown needs.
type profile struct {
	strings   []string
	types     []uint64 // sample_type.type string indexes, one per value
	samples   []sample
	locations map[uint64][]uint64 // location id → function ids
	functions map[uint64]uint64   // function id → name string index
}

type sample struct {
	locations []uint64
	values    []uint64
}

var errMalformed = errors.New("malformed profile")

// Field numbers of profile.proto.
const (
	fProfileSampleType  = 1
	fProfileSample      = 2
	fProfileLocation    = 4
	fProfileFunction    = 5
	fProfileStringTable = 6
	fValueTypeType      = 1
	fSampleLocationID   = 1
	fSampleValue        = 2
	fLocationID         = 1
	fLocationLine       = 4
	fLineFunctionID     = 1
	fFunctionID         = 1
	fFunctionName       = 2
)

func decodeProfile(b []byte) (*profile, error) {
	p := &profile{locations: map[uint64][]uint64{}, functions: map[uint64]uint64{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch {
		case num == fProfileSampleType && typ == protowire.BytesType:
			var t uint64
			err := fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, n uint64) error {
				if num == fValueTypeType {
					t = n
				}
				return nil
			})
			p.types = append(p.types, t)
			return err
		case num == fProfileSample && typ == protowire.BytesType:
			var s sample
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
				switch num {
				case fSampleLocationID:
					return appendVarints(&s.locations, typ, v, n)
				case fSampleValue:
					return appendVarints(&s.values, typ, v, n)
				}
				return nil
			})
			p.samples = append(p.samples, s)
			return err
		case num == fProfileLocation && typ == protowire.BytesType:
			var (
				id    uint64
				funcs []uint64
			)
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
				switch {
				case num == fLocationID:
					id = n
				case num == fLocationLine && typ == protowire.BytesType:
					return fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, n uint64) error {
						if num == fLineFunctionID {
							funcs = append(funcs, n)
						}
						return nil
					})
				}
				return nil
			})
			p.locations[id] = funcs
			return err
		case num == fProfileFunction && typ == protowire.BytesType:
			var id, name uint64
			err := fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, n uint64) error {
				switch num {
				case fFunctionID:
					id = n
				case fFunctionName:
					name = n
				}
				return nil
			})
			p.functions[id] = name
			return err
		case num == fProfileStringTable && typ == protowire.BytesType:
			p.strings = append(p.strings, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// fields calls fn for each field of a message: v holds a length-delimited
// field's bytes, n a varint field's value.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return errMalformed
		}
		b = b[l:]
		var (
			v []byte
			n uint64
		)
		switch typ {
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		default:
			l = protowire.ConsumeFieldValue(num, typ, b)
		}
		if l < 0 {
			return errMalformed
		}
		b = b[l:]
		if err := fn(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}

// appendVarints reads a repeated integer field, packed or not.
func appendVarints(dst *[]uint64, typ protowire.Type, v []byte, n uint64) error {
	if typ == protowire.VarintType {
		*dst = append(*dst, n)
		return nil
	}
	for len(v) > 0 {
		x, l := protowire.ConsumeVarint(v)
		if l < 0 {
			return errMalformed
		}
		*dst = append(*dst, x)
		v = v[l:]
	}
	return nil
}

func (p *profile) str(i uint64) string {
	if i < uint64(len(p.strings)) {
		return p.strings[i]
	}
	return ""
}

// breakdown sums the "cpu" value of every sample by component.
func (p *profile) breakdown() (Breakdown, error) {
	cpu := -1
	for i, t := range p.types {
		if p.str(t) == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return Breakdown{}, fmt.Errorf("%w: no cpu sample type", errMalformed)
	}
	b := Breakdown{By: map[string]time.Duration{}}
	var stack []string
	for _, s := range p.samples {
		if cpu >= len(s.values) {
			return Breakdown{}, fmt.Errorf("%w: sample without cpu value", errMalformed)
		}
		stack = stack[:0]
		for _, loc := range s.locations {
			for _, fn := range p.locations[loc] {
				stack = append(stack, p.str(p.functions[fn]))
			}
		}
		d := time.Duration(s.values[cpu])
		b.Total += d
		b.By[classify(stack)] += d
	}
	return b, nil
}
