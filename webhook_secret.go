package bonafide

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// WebhookSecretPrefix starts every company webhook secret (the Standard Webhooks form
// "whsec_<base64 key>"; package webhook signs with it).
const WebhookSecretPrefix = "whsec_"

// NewWebhookSecret returns a fresh company webhook secret: the prefix and 24 random bytes in base64.
func NewWebhookSecret() (string, error) {
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generating a webhook secret: %w", err)
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}
