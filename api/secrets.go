package api

// The webhook secret of a company: /api/companies/{id}/webhook_secret.

import (
	"net/http"

	"bonafide"
)

// getWebhookSecret answers GET /api/companies/{id}/webhook_secret: the Standard Webhooks secret
// ("whsec_...") that signs this company's webhook deliveries.
func (s *Server) getWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	c, err := s.secretCompany(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"company_id": c.ID, "webhook_secret": c.WebhookSecret})
	return nil
}

// rotateWebhookSecret answers POST /api/companies/{id}/webhook_secret with a new secret; deliveries
// signed from now on use it.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	c, err := s.secretCompany(r)
	if err != nil {
		return err
	}
	secret, err := bonafide.NewWebhookSecret()
	if err != nil {
		return err
	}
	c.WebhookSecret = secret
	if err := s.store.UpdateCompany(r.Context(), c); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "webhook secret rotated", "company_id", c.ID, "by", caller(r).user.ID)
	s.audited(r, bonafide.AuditWebhookSecret, c.ID, map[string]string{"change": "rotated"}, bonafide.Obj(bonafide.ObjCompany, c.ID))
	writeJSON(w, http.StatusOK, map[string]string{"company_id": c.ID, "webhook_secret": c.WebhookSecret})
	return nil
}
