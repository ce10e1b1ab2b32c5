package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newGroupsCmd builds "hush groups": SCIM groups, the principals of scope
// ACLs (admins only).
func newGroupsCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List, create and delete groups and change their members (admins)",
		Long: `Manages groups through the server's SCIM API. A group is a principal of scope
ACLs: "hush secrets put-acl SCOPE GROUP READ" grants every member READ.
Groups and users are named by their display name and user name.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	f.register(cmd)
	cmd.AddCommand(newGroupsListCmd(f), newGroupsCreateCmd(f), newGroupsDeleteCmd(f),
		newGroupsMemberCmd(f, "add-member", "Add a user (or a group) to a group"),
		newGroupsMemberCmd(f, "remove-member", "Remove a user (or a group) from a group"))
	return cmd
}

func newGroupsListCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List groups with their members",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			groups, err := client.ListGroups(c.Context(), "")
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(c.OutOrStdout(), nonNil(groups))
			}
			rows := make([][]string, 0, len(groups))
			for _, g := range groups {
				rows = append(rows, []string{g.ID, g.DisplayName, valueNames(g.Members)})
			}
			return printTable(c.OutOrStdout(), []column{{header: "ID"}, {header: "Group"}, {header: "Members"}}, rows)
		},
	}
}

func newGroupsCreateCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if args[0] == "" {
				return usagef("the group name must not be empty")
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			g, err := client.CreateGroup(c.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(c.OutOrStdout(), g)
			}
			fmt.Fprintf(c.OutOrStdout(), "Created group %s (id %s)\n", g.DisplayName, g.ID)
			return nil
		},
	}
}

func newGroupsDeleteCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a group",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			g, err := client.FindGroup(c.Context(), args[0])
			if err != nil {
				return err
			}
			return client.DeleteGroup(c.Context(), g.ID)
		},
	}
}

// memberID resolves a member name: a user name first, then a group name.
func memberID(ctx context.Context, client *dbapi.Client, name string) (string, error) {
	u, err := client.FindUser(ctx, name)
	if err == nil {
		return u.ID, nil
	}
	if !errors.Is(err, dbapi.ErrResourceDoesNotExist) {
		return "", err
	}
	g, gerr := client.FindGroup(ctx, name)
	if gerr == nil {
		return g.ID, nil
	}
	if errors.Is(gerr, dbapi.ErrResourceDoesNotExist) {
		return "", fmt.Errorf("no user or group named %s", name)
	}
	return "", gerr
}

func newGroupsMemberCmd(f *apiFlags, name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name + " GROUP MEMBER",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			g, err := client.FindGroup(c.Context(), args[0])
			if err != nil {
				return err
			}
			id, err := memberID(c.Context(), client, args[1])
			if err != nil {
				return err
			}
			if name == "add-member" {
				return client.AddGroupMember(c.Context(), g.ID, id)
			}
			return client.RemoveGroupMember(c.Context(), g.ID, id)
		},
	}
}
