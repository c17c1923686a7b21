package web

import "encoding/base64"

func base64Decode(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

func base64Encode(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
