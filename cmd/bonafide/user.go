package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"bonafide"
	"bonafide/api"
	"bonafide/jobs"
)

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := `Usage:
  bonafide user create --email E --password P [--role CLIENT] [--company NAME]
  bonafide user list
  bonafide user disable --email E
  bonafide user password --email E --password P   (resets the password and ends every session)

Manages accounts in the server's database (--data-dir / --database-url as for 'serve').
Roles: ADMIN, OPERATOR, CLIENT, "CLIENT ADMIN", "CLIENT OPERATOR", "CLIENT SERVICE".
`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	fs := newFlags("user "+sub, usage, stderr)
	var sf serverFlags
	sf.register(fs)
	email := fs.String("email", "", "the user's email (login)")
	password := fs.String("password", "", "the password (at least 8 characters)")
	role := fs.String("role", string(bonafide.RoleClient), "the role")
	company := fs.String("company", "", "the company of a client role (created when missing); global roles (ADMIN, OPERATOR) join the reserved company \"global\"")
	if code, done := parse(fs, args[1:]); done {
		return code
	}
	sf.resolve()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	db, err := openDatabase(ctx, &sf, jobs.Config{Logger: log}, log)
	if err != nil {
		fmt.Fprintf(stderr, "bonafide user: %v\n", err)
		return 1
	}
	store := db.Store()
	defer store.Close()
	switch sub {
	case "create":
		if *email == "" || *password == "" {
			fmt.Fprintln(stderr, "bonafide user create: --email and --password are required")
			return 2
		}
		u, err := createUser(ctx, store, *email, *password, bonafide.Role(*role), *company)
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user create: %v\n", err)
			return 1
		}
		if *company == "" {
			fmt.Fprintf(stdout, "created %s %s (%s), a global role (company %q)\n", u.Role, u.Email, u.ID, globalCompany)
		} else {
			fmt.Fprintf(stdout, "created %s %s (%s) in company %s\n", u.Role, u.Email, u.ID, *company)
		}
	case "list":
		users, err := store.ListUsers(ctx, "")
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "email\trole\tcompany_id\tuser_id\tdisabled")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", u.Email, u.Role, u.CompanyID, u.ID, u.Disabled)
		}
		tw.Flush()
	case "disable":
		if *email == "" {
			fmt.Fprintln(stderr, "bonafide user disable: --email is required")
			return 2
		}
		u, err := store.GetUserByEmail(ctx, *email)
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user disable: %v\n", err)
			return 1
		}
		if err := bonafide.DisableUser(ctx, store, u); err != nil {
			fmt.Fprintf(stderr, "bonafide user disable: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "disabled %s\n", u.Email)
	case "password":
		if *email == "" || *password == "" {
			fmt.Fprintln(stderr, "bonafide user password: --email and --password are required")
			return 2
		}
		if err := resetPassword(ctx, store, *email, *password); err != nil {
			fmt.Fprintf(stderr, "bonafide user password: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "changed the password of %s; its sessions ended\n", *email)
	default:
		fmt.Fprintf(stderr, "bonafide user: unknown subcommand %q\n\n%s", sub, usage)
		return 2
	}
	return 0
}

// resetPassword sets a user's password from the shell and ends every session it has.
func resetPassword(ctx context.Context, store bonafide.Store, email, password string) error {
	if len(password) < 8 {
		return fmt.Errorf("the password must have at least 8 characters")
	}
	u, err := store.GetUserByEmail(ctx, email)
	if err != nil {
		return err
	}
	hash, err := api.HashPassword(password)
	if err != nil {
		return err
	}
	return bonafide.ChangePassword(ctx, store, u, hash, "")
}
