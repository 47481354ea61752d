package sse

// The external test package (fuzz_test.go, otel_test.go) shares these
// helpers of helpers_test.go instead of keeping copies; they exist only in
// test builds.

// Describe is describe, for the external tests.
var Describe = describe

// DiffActions is diffActions, for the external tests.
var DiffActions = diffActions

// NewTestClient is testClient, for the external tests.
var NewTestClient = testClient

// HeaderValues is headerValues, for the external tests.
var HeaderValues = headerValues
