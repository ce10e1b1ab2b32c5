package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newUsersCmd builds "hush users": the SCIM users of the server (admins,
// except "me").
func newUsersCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, create, show and delete users (admins), or show yourself",
		Long: `Manages the users of a hush server through its SCIM API (the Databricks
workspace SCIM subset). Users are named by their user name, e.g. an e-mail
address. Every subcommand but "me" needs admin rights.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	f.register(cmd)
	cmd.AddCommand(newUsersListCmd(f), newUsersCreateCmd(f), newUsersGetCmd(f), newUsersDeleteCmd(f), newUsersMeCmd(f))
	return cmd
}

// valueNames lists the display names of SCIM values (groups, members).
func valueNames(vs []dbapi.SCIMValue) string {
	names := make([]string, 0, len(vs))
	for _, v := range vs {
		n := v.Display
		if n == "" {
			n = v.Value
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func userActive(u dbapi.SCIMUser) bool { return u.Active == nil || *u.Active }

func newUsersListCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			users, err := client.ListUsers(c.Context(), "")
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(c.OutOrStdout(), nonNil(users))
			}
			rows := make([][]string, 0, len(users))
			for _, u := range users {
				rows = append(rows, []string{u.ID, u.UserName, u.DisplayName, formatBool(userActive(u)), valueNames(u.Groups)})
			}
			return printTable(c.OutOrStdout(), []column{{header: "ID"}, {header: "User name"}, {header: "Display name"}, {header: "Active"}, {header: "Groups"}}, rows)
		},
	}
}

func newUsersCreateCmd(f *apiFlags) *cobra.Command {
	var display string
	cmd := &cobra.Command{
		Use:     "create USER_NAME",
		Short:   "Create a user",
		Example: `  hush users create alice@example.com --display-name "Alice Liddell"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if args[0] == "" {
				return usagef("the user name must not be empty")
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			u, err := client.CreateUser(c.Context(), dbapi.SCIMUser{UserName: args[0], DisplayName: display})
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(c.OutOrStdout(), u)
			}
			fmt.Fprintf(c.OutOrStdout(), "Created user %s (id %s)\n", u.UserName, u.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&display, "display-name", "", "the user's display name")
	return cmd
}

func printUser(w io.Writer, u dbapi.SCIMUser, asJSON bool) error {
	if asJSON {
		return printJSON(w, u)
	}
	_, err := fmt.Fprintf(w, "ID:            %s\nUser name:     %s\nDisplay name:  %s\nActive:        %t\nGroups:        %s\n",
		u.ID, u.UserName, u.DisplayName, userActive(u), valueNames(u.Groups))
	return err
}

func newUsersGetCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get USER_NAME",
		Short: "Show a user and their groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			u, err := client.FindUser(c.Context(), args[0])
			if err != nil {
				return err
			}
			if full, err := client.GetUser(c.Context(), u.ID); err == nil {
				u = full
			}
			return printUser(c.OutOrStdout(), u, f.json())
		},
	}
}

func newUsersDeleteCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER_NAME",
		Short: "Delete a user (their tokens stop working)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			u, err := client.FindUser(c.Context(), args[0])
			if err != nil {
				return err
			}
			return client.DeleteUser(c.Context(), u.ID)
		},
	}
}

func newUsersMeCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "me",
		Short: "Show the user your token belongs to",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			u, err := client.Me(c.Context())
			if err != nil {
				return err
			}
			return printUser(c.OutOrStdout(), u, f.json())
		},
	}
}
