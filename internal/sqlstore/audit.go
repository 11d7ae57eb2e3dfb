package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- audit trail --------------------------------------------------------------------------------

const auditCols = `l.id, l.at, l.actor, l.company_id, l.action, l.objects, l.client_addr, l.request_id, l.details`

func scanAudit(r Row) (*bonafide.AuditEntry, error) {
	var e bonafide.AuditEntry
	var at int64
	var objects, details string
	if err := r.Scan(&e.ID, &at, &e.Actor, &e.CompanyID, &e.Action, &objects, &e.ClientAddr, &e.RequestID, &details); err != nil {
		return nil, err
	}
	e.Time = storeutil.FromStamp(at)
	var err error
	if e.Objects, err = storeutil.DecodeArray[bonafide.AuditObject]("objects", objects); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
		return nil, fmt.Errorf("audit details: %w", err)
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return &e, nil
}

// AppendAudit stores e and its object ids (for the object filter) in one transaction.
func (s *Store[T]) AppendAudit(ctx context.Context, e *bonafide.AuditEntry) error {
	if err := e.Check(); err != nil {
		return err
	}
	storeutil.FillID(&e.ID)
	if e.Time.IsZero() {
		e.Time = s.codec.Now()
	}
	e.Time = storeutil.Norm(e.Time)
	objects, err := storeutil.Array(s.codec.JSON, "objects", e.Objects)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("audit details: %w", err)
	}
	details, err := s.codec.Text("details", raw, "{}")
	if err != nil {
		return err
	}
	if details == "null" {
		details = "{}"
	}
	err = s.tx(ctx, func(tx Tx[T]) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (id, at, actor, company_id, action, objects, client_addr, request_id, details)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, storeutil.Stamp(e.Time), e.Actor, e.CompanyID, e.Action, objects,
			e.ClientAddr, e.RequestID, details); err != nil {
			return err
		}
		seen := map[bonafide.AuditObject]bool{}
		var rows [][]any
		for _, o := range e.Objects {
			if !seen[o] {
				seen[o] = true
				rows = append(rows, []any{e.ID, o.Type, o.ID})
			}
		}
		if len(rows) == 0 {
			return nil
		}
		_, err := tx.ExecEach(ctx, `INSERT INTO audit_objects (entry_id, object_type, object_id) VALUES (?, ?, ?)`, rows)
		return err
	})
	return s.wrap("append audit", err)
}

// ListAudit lists the entries f selects, newest first (oldest first when asked); time bounds are
// inclusive.
func (s *Store[T]) ListAudit(ctx context.Context, f bonafide.AuditFilter) ([]*bonafide.AuditEntry, int, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.CompanyID != "" {
		add(`l.company_id = ?`, f.CompanyID)
	}
	if f.Action != "" {
		add(`l.action = ?`, f.Action)
	}
	if f.Actor != "" {
		add(`l.actor = ?`, f.Actor)
	}
	if f.ObjectID != "" {
		add(`EXISTS (SELECT 1 FROM audit_objects o WHERE o.entry_id = l.id AND o.object_id = ?)`, f.ObjectID)
	}
	if f.TimeMin != nil {
		add(`l.at >= ?`, storeutil.Stamp(*f.TimeMin))
	}
	if f.TimeMax != nil {
		add(`l.at <= ?`, storeutil.Stamp(*f.TimeMax))
	}
	whereSQL := ""
	if len(where) > 0 {
		whereSQL = " WHERE " + strings.Join(where, " AND ")
	}
	total := -1
	if f.WithTotal {
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM audit_log l`+whereSQL, args...).Scan(&total); err != nil {
			return nil, 0, s.wrap("count audit", err)
		}
	}
	dir := "DESC"
	if f.OldestFirst {
		dir = "ASC"
	}
	q := fmt.Sprintf(`SELECT %s FROM audit_log l%s ORDER BY l.at %s, l.%s %s LIMIT ? OFFSET ?`, auditCols, whereSQL, dir, s.sx.InsertOrder, dir)
	out, err := list(ctx, s, "list audit", scanAudit, q, append(args, s.limit(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// DeleteAuditBefore removes the entries older than t, with their object rows, in one transaction.
func (s *Store[T]) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx Tx[T]) error {
		at := storeutil.Stamp(t)
		if _, err := tx.Exec(ctx, `DELETE FROM audit_objects WHERE entry_id IN (SELECT id FROM audit_log WHERE at < ?)`, at); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM audit_log WHERE at < ?`, at)
		return err
	})
	if err != nil {
		return 0, s.wrap("delete audit", err)
	}
	return int(n), nil
}
