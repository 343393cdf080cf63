/** `clawops.yaml`: the settings of one fleet repo. */
import Type, { type Static } from 'typebox';
import { API_VERSION, describe, DriftPolicy, SecretRef } from './common.ts';

export const REPOSITORY_FILE = 'clawops.yaml';

export const RepositoryConfig = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal('Repository'),
    spec: Type.Object(
      {
        github: Type.Optional(
          Type.Object(
            {
              repository: Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: '`owner/name` of this fleet repo on GitHub.' }),
              apiUrl: Type.Optional(Type.String({ description: 'GitHub API base URL (GitHub Enterprise); defaults to api.github.com.' })),
              driftPullRequests: Type.Optional(
                Type.Object(
                  {
                    concurrent: Type.Optional(Type.Integer({ minimum: 1, default: 10, description: 'Open drift pull requests at most; more drift waits.' })),
                    hourly: Type.Optional(Type.Integer({ minimum: 1, default: 2, description: 'Drift pull requests opened per hour at most.' })),
                  },
                  { additionalProperties: false, description: 'Limits on the drift pull requests clawops opens (approval pull requests are never limited).' },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        audit: Type.Optional(
          Type.Object(
            {
              branch: Type.Optional(Type.String({ default: 'clawops/audit', description: 'Orphan branch holding events and state.' })),
              signingKey: Type.Optional(describe(SecretRef, 'SSH Ed25519 key that signs audit commits.')),
              allowedSigners: Type.Optional(Type.String({ description: 'Path of an allowed-signers file used by `clawops audit verify`.' })),
              committer: Type.Optional(
                Type.Object(
                  { name: Type.String({ minLength: 1 }), email: Type.String({ minLength: 3 }) },
                  {
                    additionalProperties: false,
                    description: 'Author and committer of audit commits (default clawops <clawops@localhost>). GitHub shows a commit as Verified when this email is a verified email of the account that holds the signing key.',
                  },
                ),
              ),
              verifiedHead: Type.Optional(
                Type.String({
                  pattern: '^[0-9a-f]{40}$',
                  description: 'A commit of the audit branch that `clawops audit verify` requires to stay in its history (pin one you reviewed); a rewrite or an old state pushed back fails verification.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        secrets: Type.Object(
          {
            recipients: Type.Array(
              Type.String({ pattern: '^age1([02-9ac-hj-np-z]{58}|pq1[02-9ac-hj-np-z]{100,})$', description: 'An age recipient (`age1…`, X25519 or post-quantum hybrid).' }),
              { minItems: 1, description: 'Every secret in `secrets/` is encrypted to all of these.' },
            ),
          },
          { additionalProperties: false },
        ),
        approvers: Type.Optional(
          Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }), Type.Object(
            {
              githubTeam: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: '`org/team-slug`.' })),
              users: Type.Optional(Type.Array(Type.String())),
            },
            { additionalProperties: false },
          ), { description: 'Named approver groups that policies refer to in `approvals.teams`.', additionalProperties: false }),
        ),
        policies: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), { description: 'Built-in policy packs to enforce, e.g. `[baseline]` or `[strict]`.' }),
        ),
        ignore: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Globs (relative to the repo root) the loader skips.' })),
        defaults: Type.Optional(
          Type.Object(
            {
              drift: Type.Optional(DriftPolicy),
              parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'Gateways worked on at once.' })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'clawops repository settings (`clawops.yaml` at the repo root).' },
);
export type RepositoryConfig = Static<typeof RepositoryConfig>;
