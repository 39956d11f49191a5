// Package servicedefaults gives every ZINC process the same operational
// baseline: configuration from the environment, one structured slog logger
// that stamps trace and span ids, OpenTelemetry tracer and meter providers
// built from the standard OTEL_* variables, and liveness and readiness
// endpoints on a small HTTP server of its own.
//
// Its constructors are plain functions usable without fx; Module wires them
// into an fx application and owns their lifecycle. It imports no other
// package of the project, so every layer may depend on it.
package servicedefaults
