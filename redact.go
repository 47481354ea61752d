package sse

// Placeholder until the redaction layer lands: URL redaction as before, and
// errors passed through.

type redactor struct{ c *config }

func newRedactor(c *config, _ string) *redactor { return &redactor{c: c} }

func (r *redactor) URL(raw string) string { return r.c.redactURL(raw) }

func (r *redactor) Error(err error) error { return err }
