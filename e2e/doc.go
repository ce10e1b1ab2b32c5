// Package e2e holds hush's end-to-end tests against real peers: the official
// Databricks Go SDK driving hush serve, a real jupyter_server with ipykernel
// behind hush proxy, and a real headless browser. It is its own module so
// that the SDK's many dependencies stay out of hush's own go.mod.
package e2e
