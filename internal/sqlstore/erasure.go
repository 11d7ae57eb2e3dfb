package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"bonafide"
	"bonafide/internal/storeutil"
)

// --- erasures ---------------------------------------------------------------------------------

// The kinds of erasure targets.
const (
	targetFolder = "folder"
	targetPerson = "person"
)

// CreateErasure selects the targets and stores the receipt with them; a real erasure's job is
// enqueued in the same transaction.
func (s *Store[T]) CreateErasure(ctx context.Context, e *bonafide.Erasure) error {
	if err := e.Selector.Validate(); err != nil {
		return err
	}
	var enq Enqueuer[T]
	if !e.DryRun {
		var err error
		if enq, err = s.enqueuer(); err != nil {
			return err
		}
	}
	sel, err := json.Marshal(e.Selector)
	if err != nil {
		return fmt.Errorf("%s: encode erasure selector: %w", s.d.Name(), err)
	}
	e.ID = storeutil.NewID()
	e.Created = s.codec.Now()
	e.Status = bonafide.ErasureInProgress
	if e.DryRun {
		e.Status = bonafide.ErasureFinished
		e.Finished = e.Created
	}
	e.Folders, e.Media, e.BestShots, e.Persons = 0, 0, 0, 0
	err = s.tx(ctx, func(tx Tx[T]) error {
		folders, err := s.selectErasureFolders(ctx, tx, e)
		if err != nil {
			return err
		}
		persons, err := s.selectErasurePersons(ctx, tx, e)
		if err != nil {
			return err
		}
		e.FolderIDs, e.PersonIDs = folders, persons
		var finished any
		if e.DryRun {
			e.Folders, e.Persons = len(folders), len(persons)
			for _, id := range folders {
				m, b, err := s.folderCounts(ctx, tx, id)
				if err != nil {
					return err
				}
				e.Media += m
				e.BestShots += b
			}
			finished = storeutil.Stamp(e.Finished)
		}
		_, err = tx.Exec(ctx, `INSERT INTO erasures (id, company_id, user_id, selector, dry_run, status, folders, media,
			best_shots, persons, client_addr, request_id, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.CompanyID, e.UserID, string(sel), e.DryRun, e.Status, e.Folders, e.Media, e.BestShots, e.Persons,
			e.ClientAddr, e.RequestID, storeutil.Stamp(e.Created), finished)
		if err != nil {
			return err
		}
		var args [][]any
		for _, id := range folders {
			args = append(args, []any{e.ID, targetFolder, id, false})
		}
		for _, id := range persons {
			args = append(args, []any{e.ID, targetPerson, id, false})
		}
		if len(args) > 0 {
			if _, err := tx.ExecEach(ctx, `INSERT INTO erasure_targets (erasure_id, kind, target_id, erased) VALUES (?, ?, ?, ?)`, args); err != nil {
				return err
			}
		}
		if e.DryRun {
			return nil
		}
		return enq.EnqueueErasure(ctx, tx.Native(), e.ID)
	})
	return s.wrap("create erasure", err)
}

// selectErasureFolders returns the ids of the folders the selector picks within the scope, sorted;
// more than bonafide.MaxErasureTargets is code 4.
func (s *Store[T]) selectErasureFolders(ctx context.Context, tx Tx[T], e *bonafide.Erasure) ([]string, error) {
	sel := e.Selector
	if len(sel.FolderIDs) == 0 && len(sel.FolderMeta) == 0 {
		return []string{}, nil
	}
	var picks []string
	var args []any
	if len(sel.FolderIDs) > 0 {
		in, a := s.sx.In("f.id", slices.Compact(slices.Sorted(slices.Values(sel.FolderIDs))))
		picks = append(picks, in)
		args = append(args, a...)
	}
	if len(sel.FolderMeta) > 0 {
		var conds []string
		for _, k := range slices.Sorted(maps.Keys(sel.FolderMeta)) {
			conds = append(conds, s.sx.MetaEquals("f.meta_data"))
			args = append(args, k, sel.FolderMeta[k])
		}
		picks = append(picks, "("+strings.Join(conds, " AND ")+")")
	}
	q := `SELECT f.id FROM folders f WHERE (` + strings.Join(picks, " OR ") + `)`
	if e.CompanyID != "" {
		q += ` AND f.company_id = ?`
		args = append(args, e.CompanyID)
	}
	return s.selectTargets(ctx, tx, "folder", q+` ORDER BY f.id LIMIT ?`, args)
}

// selectErasurePersons returns the ids of the persons the selector picks within the scope (the
// company of their collection), sorted.
func (s *Store[T]) selectErasurePersons(ctx context.Context, tx Tx[T], e *bonafide.Erasure) ([]string, error) {
	sel := e.Selector
	if len(sel.PersonMeta) == 0 {
		return []string{}, nil
	}
	var conds []string
	var args []any
	for _, k := range slices.Sorted(maps.Keys(sel.PersonMeta)) {
		conds = append(conds, s.sx.MetaEquals("p.meta_data"))
		args = append(args, k, sel.PersonMeta[k])
	}
	q := `SELECT p.id FROM persons p JOIN collections c ON c.id = p.collection_id WHERE ` + strings.Join(conds, " AND ")
	if e.CompanyID != "" {
		q += ` AND c.company_id = ?`
		args = append(args, e.CompanyID)
	}
	return s.selectTargets(ctx, tx, "person", q+` ORDER BY p.id LIMIT ?`, args)
}

// selectTargets reads at most MaxErasureTargets ids; one more is refused.
func (s *Store[T]) selectTargets(ctx context.Context, tx Tx[T], kind, q string, args []any) ([]string, error) {
	rows, err := tx.Query(ctx, q, append(args, bonafide.MaxErasureTargets+1)...)
	if err != nil {
		return nil, err
	}
	ids, err := collect(rows, func(r Row) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	if len(ids) > bonafide.MaxErasureTargets {
		return nil, &bonafide.Error{Code: bonafide.CodeInvalidValue,
			Message: fmt.Sprintf("Invalid param value: the erasure selects more than %d %ss; at most %d per erasure: narrow the selector or split the request", bonafide.MaxErasureTargets, kind, bonafide.MaxErasureTargets)}
	}
	return ids, nil
}

// folderCounts counts a folder's media and best shots.
func (s *Store[T]) folderCounts(ctx context.Context, q Querier, folderID string) (media, bestShots int, err error) {
	if err := q.QueryRow(ctx, `SELECT count(*) FROM media WHERE folder_id = ?`, folderID).Scan(&media); err != nil {
		return 0, 0, err
	}
	best := s.sx.JSONField("r", "best_shot_key")
	err = q.QueryRow(ctx, `SELECT count(*) FROM analyses a, `+s.sx.JSONElements("a.results", "r")+`
		WHERE a.folder_id = ? AND `+best+` <> ''`, folderID).Scan(&bestShots)
	return media, bestShots, err
}

// GetErasure reads a receipt with its targets.
func (s *Store[T]) GetErasure(ctx context.Context, id string) (*bonafide.Erasure, error) {
	var e bonafide.Erasure
	var sel string
	var created int64
	var finished *int64
	err := s.db.QueryRow(ctx, `SELECT id, company_id, user_id, selector, dry_run, status, folders, media, best_shots,
		persons, client_addr, request_id, created_at, finished_at FROM erasures WHERE id = ?`, id).Scan(
		&e.ID, &e.CompanyID, &e.UserID, &sel, &e.DryRun, &e.Status, &e.Folders, &e.Media, &e.BestShots,
		&e.Persons, &e.ClientAddr, &e.RequestID, &created, &finished)
	if err != nil {
		return nil, s.notFoundIf(err, "get erasure", "erasure", id)
	}
	if err := json.Unmarshal([]byte(sel), &e.Selector); err != nil {
		return nil, s.wrap("get erasure", fmt.Errorf("erasure %s: selector: %w", id, err))
	}
	e.Created = storeutil.FromStamp(created)
	if finished != nil {
		e.Finished = storeutil.FromStamp(*finished)
	}
	type target struct{ kind, id string }
	ts, err := list(ctx, s, "get erasure", func(r Row) (target, error) {
		var t target
		return t, r.Scan(&t.kind, &t.id)
	}, `SELECT kind, target_id FROM erasure_targets WHERE erasure_id = ? ORDER BY kind, target_id`, id)
	if err != nil {
		return nil, err
	}
	e.FolderIDs, e.PersonIDs = []string{}, []string{}
	for _, t := range ts {
		if t.kind == targetFolder {
			e.FolderIDs = append(e.FolderIDs, t.id)
		} else {
			e.PersonIDs = append(e.PersonIDs, t.id)
		}
	}
	sort.Strings(e.FolderIDs)
	sort.Strings(e.PersonIDs)
	return &e, nil
}

// ErasureFolders lists the folders of a real erasure not yet erased.
func (s *Store[T]) ErasureFolders(ctx context.Context, id string) ([]string, error) {
	return list(ctx, s, "erasure folders", func(r Row) (string, error) {
		var v string
		return v, r.Scan(&v)
	}, `SELECT t.target_id FROM erasure_targets t JOIN erasures e ON e.id = t.erasure_id
		WHERE t.erasure_id = ? AND t.kind = ? AND t.erased = ? AND e.dry_run = ? ORDER BY t.target_id`, id, targetFolder, false, false)
}

// EraseFolder deletes one folder's rows and records it in the receipt, in one transaction. The
// target row is updated first: it is the lock that makes two runs of the same erasure (a job
// rescued from a node thought dead) count each folder once. The folder row is deleted before its
// children, in the order DeleteFolder and FinishAnalysis take.
func (s *Store[T]) EraseFolder(ctx context.Context, erasureID, folderID string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		n, err := tx.Exec(ctx, `UPDATE erasure_targets SET erased = ? WHERE erasure_id = ? AND kind = ? AND target_id = ?
			AND erased = ?`, true, erasureID, targetFolder, folderID, false)
		if err != nil || n == 0 {
			return err
		}
		// Lock the folder row first (adding media and finishing analyses touch it), count its
		// children, then delete it (the foreign keys may cascade) and them.
		var exists int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM folders WHERE id = ?`+s.sx.ForUpdate+`) l`, folderID).Scan(&exists); err != nil {
			return err
		}
		media, best, err := s.folderCounts(ctx, tx, folderID)
		if err != nil {
			return err
		}
		folders, err := tx.Exec(ctx, `DELETE FROM folders WHERE id = ?`, folderID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM analyses WHERE folder_id = ?`, folderID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM media WHERE folder_id = ?`, folderID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE erasures SET folders = folders + ?, media = media + ?, best_shots = best_shots + ?
			WHERE id = ?`, folders, media, best, erasureID)
		return err
	})
	return s.wrap("erase folder", err)
}

// FinishErasure deletes the erasure's persons and closes the receipt, in one transaction.
func (s *Store[T]) FinishErasure(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx Tx[T]) error {
		var status string
		var dry bool
		if err := tx.QueryRow(ctx, `SELECT status, dry_run FROM erasures WHERE id = ?`+s.sx.ForUpdate, id).Scan(&status, &dry); err != nil {
			return s.notFoundIf(err, "finish erasure", "erasure", id)
		}
		if status == bonafide.ErasureFinished || dry {
			return nil
		}
		var left int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM erasure_targets WHERE erasure_id = ? AND kind = ? AND erased = ?`,
			id, targetFolder, false).Scan(&left); err != nil {
			return err
		}
		if left > 0 {
			return fmt.Errorf("erasure %s: %d folders are not erased yet", id, left)
		}
		rows, err := tx.Query(ctx, `SELECT t.target_id, p.collection_id FROM erasure_targets t JOIN persons p ON p.id = t.target_id
			WHERE t.erasure_id = ? AND t.kind = ? AND t.erased = ? ORDER BY t.target_id`, id, targetPerson, false)
		if err != nil {
			return err
		}
		type person struct{ id, collection string }
		persons, err := collect(rows, func(r Row) (person, error) {
			var p person
			return p, r.Scan(&p.id, &p.collection)
		})
		if err != nil {
			return err
		}
		bumped := map[string]bool{}
		for _, p := range persons {
			if !bumped[p.collection] {
				if err := s.bumpCollection(ctx, tx, p.collection); err != nil {
					return err
				}
				bumped[p.collection] = true
			}
			if _, err := tx.Exec(ctx, `DELETE FROM person_images WHERE person_id = ?`, p.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM persons WHERE id = ?`, p.id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE erasure_targets SET erased = ? WHERE erasure_id = ? AND kind = ?`, true, id, targetPerson); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE erasures SET persons = persons + ?, status = ?, finished_at = ? WHERE id = ?`,
			len(persons), bonafide.ErasureFinished, storeutil.Stamp(s.codec.Now()), id)
		return err
	})
	return s.wrap("finish erasure", err)
}
