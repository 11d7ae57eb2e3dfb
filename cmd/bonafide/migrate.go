package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/schollz/progressbar/v3"

	"bonafide"
	"bonafide/blob"
	"bonafide/jobs"
)

const migrateUsage = `Usage: bonafide migrate [--database-url URL] [--blob-url URL] [--data-dir DIR]

Applies the database schema (ours and the job queue's), creates the S3 bucket when --blob-url names
one that does not exist yet, and exits. 'bonafide serve' applies the schema on start too; with
PostgreSQL, nodes starting at once take turns under an advisory lock.

Flags:
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate", migrateUsage, stderr)
	var sf serverFlags
	sf.register(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	sf.resolve()
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	db, err := openDatabase(ctx, &sf, jobs.Config{Logger: log}, log)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate: %v\n", err)
		return 1
	}
	db.Store().Close()
	fmt.Fprintf(stdout, "schema up to date: %s\n", redact(sf.databaseURL))
	if strings.HasPrefix(sf.blobURL, "s3://") {
		b, err := blob.Open(ctx, sf.blobURL)
		if err == nil {
			err = blob.CreateS3Bucket(ctx, b)
			b.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "bonafide migrate: bucket: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "bucket ready: %s\n", redact(sf.blobURL))
	}
	return 0
}

const migrateDataUsage = `Usage: bonafide migrate-data --from sqlite:///path/bonafide.db --from-blob file:///path/media \
                            --to postgres://... --to-blob s3://bucket?...

Copies an installation, media included, into another one (typically embedded into scale-out):
companies, users (with their password hashes), folders, media files, analyses and best shots, each
keeping its id and times. Every file is checked by sha256 after the copy, and the counts are
compared at the end. Analyses still PROCESSING are queued again in the target. Running it again
skips what is already there. Sessions are not copied: users log in again.

Flags:
`

// migrationStats counts what was copied.
type migrationStats struct {
	companies, users, collections, persons, folders, media, analyses, blobs, skipped int
}

func runMigrateData(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate-data", migrateDataUsage, stderr)
	from := fs.String("from", "", "source database URL")
	fromBlob := fs.String("from-blob", "", "source media URL")
	to := fs.String("to", "", "target database URL")
	toBlob := fs.String("to-blob", "", "target media URL")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if code, done := parse(fs, args); done {
		return code
	}
	if *from == "" || *fromBlob == "" || *to == "" || *toBlob == "" {
		fmt.Fprintln(stderr, "bonafide migrate-data: --from, --from-blob, --to and --to-blob are all required")
		return 2
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	src, err := openDatabase(ctx, &serverFlags{databaseURL: *from}, jobs.Config{Logger: log}, log)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate-data: source: %v\n", err)
		return 1
	}
	defer src.Store().Close()
	// The target's store queues the jobs of analyses still processing (worked by its servers).
	dst, err := openDatabase(ctx, &serverFlags{databaseURL: *to}, jobs.Config{Logger: log}, log)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate-data: target: %v\n", err)
		return 1
	}
	defer dst.Store().Close()
	sb, err := blob.Open(ctx, *fromBlob)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate-data: %v\n", err)
		return 1
	}
	defer sb.Close()
	tb, err := blob.Open(ctx, *toBlob)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate-data: %v\n", err)
		return 1
	}
	defer tb.Close()
	progress := io.Writer(stderr)
	if *quiet {
		progress = io.Discard
	}
	st, err := migrateData(ctx, src.Store(), dst.Store(), sb, tb, progress)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide migrate-data: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "copied %d companies, %d users, %d collections, %d persons, %d folders, %d media, %d analyses, %d files (sha256 verified); %d already there\n",
		st.companies, st.users, st.collections, st.persons, st.folders, st.media, st.analyses, st.blobs, st.skipped)
	return 0
}

func migrateData(ctx context.Context, src, dst bonafide.Store, sb, tb *blob.Bucket, progress io.Writer) (*migrationStats, error) {
	st := &migrationStats{}
	exists := func(err error) bool { return bonafide.CodeOf(err) == bonafide.CodeAlreadyExist }
	companies, err := src.ListCompanies(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, c := range companies {
		if err := dst.CreateCompany(ctx, c); err != nil && !exists(err) {
			return nil, fmt.Errorf("company %s: %w", c.ID, err)
		} else if err != nil {
			st.skipped++
		} else {
			st.companies++
		}
	}
	users, err := src.ListUsers(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if err := dst.CreateUser(ctx, u); err != nil && !exists(err) {
			return nil, fmt.Errorf("user %s: %w", u.Email, err)
		} else if err != nil {
			st.skipped++
		} else {
			st.users++
		}
	}
	if err := migrateCollections(ctx, src, dst, st); err != nil {
		return nil, err
	}
	folders, _, err := src.ListFolders(ctx, bonafide.FolderFilter{Limit: -1, SortField: "time_created", SortAsc: true})
	if err != nil {
		return nil, err
	}
	bar := progressbar.NewOptions(len(folders), progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("folders"),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
	for _, f := range folders {
		if err := migrateFolder(ctx, src, dst, sb, tb, f, st); err != nil {
			return nil, fmt.Errorf("folder %s: %w", f.ID, err)
		}
		_ = bar.Add(1)
	}
	// Verify the counts.
	got, _, err := dst.ListFolders(ctx, bonafide.FolderFilter{Limit: -1, SortField: "time_created"})
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range got {
		have[f.ID] = true
	}
	for _, f := range folders {
		if !have[f.ID] {
			return nil, fmt.Errorf("verification: folder %s is missing in the target", f.ID)
		}
	}
	return st, nil
}

// migrateCollections copies every collection (blacklist) with its persons and their images (the
// embeddings; photos are not kept), keeping their ids; what the target has already is skipped,
// so a run cut short can be started again.
func migrateCollections(ctx context.Context, src, dst bonafide.Store, st *migrationStats) error {
	exists := func(err error) bool { return bonafide.CodeOf(err) == bonafide.CodeAlreadyExist }
	cols, err := src.ListCollections(ctx, "")
	if err != nil {
		return err
	}
	for _, c := range cols {
		switch err := dst.CreateCollection(ctx, &bonafide.Collection{ID: c.ID, CompanyID: c.CompanyID, Alias: c.Alias,
			MetaData: c.MetaData, Created: c.Created, Updated: c.Updated}); {
		case exists(err):
			st.skipped++
		case err != nil:
			return fmt.Errorf("collection %s: %w", c.ID, err)
		default:
			st.collections++
		}
		persons, err := src.ListPersons(ctx, c.ID, bonafide.Page{Limit: -1})
		if err != nil {
			return err
		}
		for _, p := range persons {
			images, err := src.ListPersonImages(ctx, p.ID)
			if err != nil {
				return err
			}
			switch err := dst.CreatePerson(ctx, p, images); {
			case exists(err):
				st.skipped++
			case err != nil:
				return fmt.Errorf("person %s: %w", p.ID, err)
			default:
				st.persons++
			}
		}
	}
	return nil
}

func migrateFolder(ctx context.Context, src, dst bonafide.Store, sb, tb *blob.Bucket, f *bonafide.Folder, st *migrationStats) error {
	media, err := src.ListMedia(ctx, f.ID)
	if err != nil {
		return err
	}
	analyses, err := src.ListAnalyses(ctx, f.ID)
	if err != nil {
		return err
	}
	for _, m := range media {
		if err := copyBlob(ctx, sb, tb, m.BlobKey, m.SHA256, m.ContentType); err != nil {
			return err
		}
		st.blobs++
	}
	for _, a := range analyses {
		for _, r := range a.Results {
			if r.BestShotKey != "" {
				if err := copyBlob(ctx, sb, tb, r.BestShotKey, "", "image/jpeg"); err != nil {
					return err
				}
				st.blobs++
			}
		}
	}
	if _, err := dst.GetFolder(ctx, f.ID); err == nil {
		st.skipped++
		return nil
	}
	if err := dst.CreateFolder(ctx, f, media); err != nil {
		return err
	}
	st.folders++
	st.media += len(media)
	if len(analyses) > 0 {
		if err := dst.CreateAnalyses(ctx, analyses); err != nil {
			return err
		}
		st.analyses += len(analyses)
	}
	return nil
}

// copyBlob copies one file and checks the copy by sha256 (against want when known, else the source).
func copyBlob(ctx context.Context, sb, tb *blob.Bucket, key, want, contentType string) error {
	data, err := sb.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	if want != "" && hex.EncodeToString(sum[:]) != want {
		return fmt.Errorf("%s in the source does not match its recorded sha256: the source is damaged", key)
	}
	if err := tb.Put(ctx, key, data, contentType); err != nil {
		return fmt.Errorf("writing %s: %w", key, err)
	}
	back, err := tb.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", key, err)
	}
	if sha256.Sum256(back) != sum {
		return fmt.Errorf("%s: the copy's sha256 differs from the source's", key)
	}
	return nil
}
