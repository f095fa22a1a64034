package auth

import (
	"testing"
)

// BenchmarkKeyCheck is the cost of checking one API key or personal token once its row is read:
// argon2id with the production parameters (every check before decision 0092 that missed the
// verified-key cache; since then only a key's first check after the upgrade) against the keyed
// hash every check runs now. Both go through KeyVerifier as the server calls it (single-flight
// bookkeeping included; the argon2id one under a guard).
func BenchmarkKeyCheck(b *testing.B) {
	const secret = "an-api-key-secret-of-43-characters-xxxxxxxx"
	keys, err := NewKeyHasher([]byte("benchmark-pepper-0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	argon, err := Hasher{Params: DefaultParams}.Hash(secret)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, hash string }{{"argon2id", argon}, {"keyed", keys.Hash(secret)}} {
		b.Run(bc.name, func(b *testing.B) {
			v := NewKeyVerifier(keys, Hasher{Params: DefaultParams}, NewGuard(VerifyLimits{}, nil))
			c := Credential{Kind: KindSatelliteKey, ID: "aaaaaaaaaaaaaaaa", Hash: bc.hash}
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(b.Context(), c, secret, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
