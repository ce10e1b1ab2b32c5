package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hush-secrets/hush/runtime/dbapi"
)

// newTokensCmd builds "hush tokens": personal access tokens (Token API and,
// for admins, token management).
func newTokensCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke personal access tokens",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("missing subcommand\nRun '%s --help' for usage.", c.CommandPath())
		},
	}
	f.register(cmd)
	cmd.AddCommand(newTokensCreateCmd(f), newTokensListCmd(f), newTokensRevokeCmd(f))
	return cmd
}

func newTokensCreateCmd(f *apiFlags) *cobra.Command {
	var lifetime int64
	var comment string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token for yourself and print it (shown only this once)",
		Long: `Creates a personal access token for the caller and prints it as JSON
({"token_value": ..., "token_info": {...}}), as the Databricks CLI does. The
value is shown only this once; store it (for example with hush configure).`,
		Example: `  hush tokens create --comment ci --lifetime-seconds 86400`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if lifetime < 0 {
				return usagef("--lifetime-seconds must not be negative")
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			out, err := client.CreateToken(c.Context(), lifetime, comment)
			if err != nil {
				return err
			}
			return printJSON(c.OutOrStdout(), struct {
				TokenInfo  dbapi.PublicTokenInfo `json:"token_info"`
				TokenValue string                `json:"token_value"`
			}{out.TokenInfo, out.TokenValue})
		},
	}
	cmd.Flags().Int64Var(&lifetime, "lifetime-seconds", 0, "lifetime of the token in seconds (default: no expiry)")
	cmd.Flags().StringVar(&comment, "comment", "", "comment shown in token lists")
	return cmd
}

// millisTime renders a Token API time (ms since the epoch, <= 0 for none).
func millisTime(ms int64, none string) string {
	if ms <= 0 {
		return none
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func newTokensListCmd(f *apiFlags) *cobra.Command {
	var all bool
	var createdBy string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your tokens (with --all, every user's: admins only)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if createdBy != "" && !all {
				return usagef("--created-by needs --all")
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			if all {
				infos, err := client.ListAllTokens(c.Context(), createdBy)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(w, nonNil(infos))
				}
				rows := make([][]string, 0, len(infos))
				for _, t := range infos {
					rows = append(rows, []string{t.TokenID, t.CreatedByUsername, millisTime(t.CreationTime, "-"), millisTime(t.ExpiryTime, "never"), t.Comment})
				}
				return printTable(w, []column{{header: "ID"}, {header: "Created by"}, {header: "Created"}, {header: "Expires"}, {header: "Comment"}}, rows)
			}
			infos, err := client.ListTokens(c.Context())
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(w, nonNil(infos))
			}
			rows := make([][]string, 0, len(infos))
			for _, t := range infos {
				rows = append(rows, []string{t.TokenID, millisTime(t.CreationTime, "-"), millisTime(t.ExpiryTime, "never"), t.Comment})
			}
			return printTable(w, []column{{header: "ID"}, {header: "Created"}, {header: "Expires"}, {header: "Comment"}}, rows)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every user's tokens (token management; admins only)")
	cmd.Flags().StringVar(&createdBy, "created-by", "", "with --all: only the tokens created by this user name")
	return cmd
}

func newTokensRevokeCmd(f *apiFlags) *cobra.Command {
	var anyUser bool
	cmd := &cobra.Command{
		Use:     "revoke TOKEN_ID",
		Aliases: []string{"delete"},
		Short:   "Revoke a token by ID (yours; with --any, anyone's: admins only)",
	}
	ops := newOperands(cmd, "token-id")
	cmd.Flags().BoolVar(&anyUser, "any", false, "revoke any user's token (token management; admins only)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		v, err := ops.resolve(c, args)
		if err != nil {
			return err
		}
		client, err := f.client()
		if err != nil {
			return err
		}
		if anyUser {
			return client.DeleteAnyToken(c.Context(), v[0])
		}
		return client.RevokeToken(c.Context(), v[0])
	}
	return cmd
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// formatBool renders a bool for tables.
func formatBool(b bool) string { return strconv.FormatBool(b) }
