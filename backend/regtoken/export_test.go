package regtoken

// SigningKey exposes the derived key to the tests, to sign tokens with one claim wrong.
func SigningKey(t *Tokens) []byte { return t.key }
