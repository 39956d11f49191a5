// Package environment takes in and prepares grading environments: OCI
// image layouts (the tar docker save or skopeo copy … oci-archive: writes)
// that a grading config names with environment: {image: <name>} to run
// its commands in instead of the worker's toolchain.
//
// Save is the API's side: it checks a layout completely — oci-layout and
// index.json present, every blob on the chosen image's chain there and of
// the digest and size its descriptor says, manifest and config parsed,
// every layer decompressed and matched against its diff_id, no entry
// escaping the root, a /bin/sh the sandbox can start commands through,
// sizes within Limits — then stores the tar once in object storage, by
// digest, and the environment's row. A bad image never reaches a worker.
//
// Cache is the worker's side: it fetches a layout by digest, unpacks it
// with umoci (github.com/opencontainers/umoci) into a directory keyed by
// the digest, neutralises it for the sandbox (sandbox.SealRootFS: owned by
// root, no setuid bits, no device nodes, mount points present) and renames
// it into place, once per digest however many deliveries ask at once.
package environment
