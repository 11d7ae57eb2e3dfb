package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"bonafide"
	"bonafide/internal/password"
	"bonafide/jobs"
	"bonafide/webhook"
)

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := `Usage:
  bonafide user create --email E --password-file F [--role CLIENT] [--company NAME]
  bonafide user list
  bonafide user disable --email E
  bonafide user password --email E --password-file F   (resets the password and ends every session)

--password-file F reads the password from the first line of F (- for standard input); --password P
also works, but other users of the machine can read a command line (ps).

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
	password := fs.String("password", "", "the password (at least 8 characters; visible to other users in ps: prefer --password-file)")
	passwordFile := fs.String("password-file", "", "read the password from the first line of this file (- for standard input)")
	role := fs.String("role", string(bonafide.RoleClient), "the role")
	company := fs.String("company", "", "the company of a client role (created when missing); global roles (ADMIN, OPERATOR) join the reserved company \"global\"")
	if code, done := parse(fs, args[1:]); done {
		return code
	}
	if *passwordFile != "" {
		if *password != "" {
			fmt.Fprintf(stderr, "bonafide user %s: give --password or --password-file, not both\n", sub)
			return 2
		}
		pw, err := readPasswordFile(*passwordFile)
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user %s: --password-file: %v\n", sub, err)
			return 2
		}
		*password = pw
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
			fmt.Fprintln(stderr, "bonafide user create: --email and --password-file (or --password) are required")
			return 2
		}
		u, err := createUser(ctx, store, *email, *password, bonafide.Role(*role), *company)
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user create: %v\n", err)
			return 1
		}
		cliAudit(ctx, store, stderr, bonafide.AuditUserCreate, u, map[string]string{"role": string(u.Role)})
		if u.Role.Global() {
			fmt.Fprintf(stdout, "created %s %s (%s), a global role (company %q)\n", u.Role, u.Email, u.ID, globalCompany)
		} else {
			fmt.Fprintf(stdout, "created %s %s (%s) in company %s\n", u.Role, u.Email, u.ID, strings.TrimSpace(*company))
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
		u, err := store.GetUserByEmail(ctx, bonafide.NormalizeEmail(*email))
		if err != nil {
			fmt.Fprintf(stderr, "bonafide user disable: %v\n", err)
			return 1
		}
		if err := bonafide.DisableUser(ctx, store, u); err != nil {
			fmt.Fprintf(stderr, "bonafide user disable: %v\n", err)
			return 1
		}
		cliAudit(ctx, store, stderr, bonafide.AuditUserDisable, u, nil)
		fmt.Fprintf(stdout, "disabled %s\n", u.Email)
	case "password":
		if *email == "" || *password == "" {
			fmt.Fprintln(stderr, "bonafide user password: --email and --password-file (or --password) are required")
			return 2
		}
		if err := resetPassword(ctx, store, *email, *password); err != nil {
			fmt.Fprintf(stderr, "bonafide user password: %v\n", err)
			return 1
		}
		if u, err := store.GetUserByEmail(ctx, bonafide.NormalizeEmail(*email)); err == nil {
			cliAudit(ctx, store, stderr, bonafide.AuditUserUpdate, u, map[string]string{"credentials": "changed"})
		}
		fmt.Fprintf(stdout, "changed the password of %s; its sessions ended\n", *email)
	default:
		fmt.Fprintf(stderr, "bonafide user: unknown subcommand %q\n\n%s", sub, usage)
		return 2
	}
	return 0
}

// cliAudit records a change made on the command line: the actor is the system (whoever runs the
// binary on the server), the details say so. A failure is reported, the change stays.
func cliAudit(ctx context.Context, s bonafide.AuditStore, stderr io.Writer, action string, u *bonafide.User, details map[string]string) {
	if details == nil {
		details = map[string]string{}
	}
	details["via"] = "cli"
	err := bonafide.Audit(ctx, s, bonafide.AuditEntry{Action: action, CompanyID: u.CompanyID, Details: details,
		Objects: []bonafide.AuditObject{bonafide.Obj(bonafide.ObjUser, u.ID)}})
	if err != nil {
		fmt.Fprintf(stderr, "bonafide user: the audit entry was not recorded: %v\n", err)
	}
}

// globalCompany is the reserved company of the global roles.
const globalCompany = bonafide.GlobalCompanyName

// createUser makes a user in the named company, creating the company when missing. It checks
// the user with the rules POST /api/users applies (bonafide.ValidateEmail, ValidatePassword,
// ValidateUserCompany, ValidateCompanyName), so both refuse the same users with the same words.
//
// Global roles belong to no client company: they share the reserved company globalCompany,
// which no client user joins, so a CLIENT ADMIN never sees or deletes an ADMIN's folders
// (their webhooks are still signed, with that company's secret). Client roles name theirs.
func createUser(ctx context.Context, store bonafide.Store, email, pw string, role bonafide.Role, company string) (*bonafide.User, error) {
	email = bonafide.NormalizeEmail(email)
	if err := bonafide.ValidateEmail(email); err != nil {
		return nil, err
	}
	if err := bonafide.ValidatePassword(pw); err != nil {
		return nil, err
	}
	role, err := bonafide.ParseRole(string(role)) // "client_admin" is CLIENT ADMIN, as in the API
	if err != nil {
		return nil, err
	}
	var named *bonafide.Company
	if company = strings.TrimSpace(company); company != "" {
		named = &bonafide.Company{Name: company}
	}
	if err := bonafide.ValidateUserCompany(role, named); err != nil {
		return nil, err
	}
	var c *bonafide.Company
	if role.Global() {
		c, err = bonafide.GlobalCompany(ctx, store, webhook.NewSecret)
	} else {
		if company, err = bonafide.ValidateCompanyName(company); err != nil {
			return nil, err
		}
		c, err = bonafide.EnsureCompany(ctx, store, company, "", webhook.NewSecret)
	}
	if err != nil {
		return nil, err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return nil, err
	}
	u := &bonafide.User{ID: uuid.NewString(), CompanyID: c.ID, Email: email, Role: role,
		PasswordHash: hash, CanQuality: true, CanBiometry: true}
	if err := store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// resetPassword sets a user's password from the shell and ends every session it has.
func resetPassword(ctx context.Context, store bonafide.Store, email, pw string) error {
	if err := bonafide.ValidatePassword(pw); err != nil {
		return err
	}
	u, err := store.GetUserByEmail(ctx, bonafide.NormalizeEmail(email))
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	return bonafide.ChangePassword(ctx, store, u, hash, "")
}

// readPasswordFile reads a password from the first line of the file ("-": standard input), at most
// 1 KiB, without its line ending.
func readPasswordFile(name string) (string, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 1<<10))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("the first line is empty")
	}
	return line, nil
}
