/**
 * Building blocks shared by every resource kind. Every schema in `schemas/` is generated from
 * these TypeBox definitions (scripts/generate-schemas.ts), and every TypeScript type is derived
 * from them with `Static`, so the JSON Schema a user's editor sees and the type the code sees are
 * one definition.
 */
import Type, { type Static, type TSchema } from 'typebox';

export const API_VERSION = 'clawops.dev/v1';

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];
export const EFFECTS = ['allow', 'require-approval', 'deny'] as const;
export type Effect = (typeof EFFECTS)[number];
export const DRIFT_MODES = ['revert', 'propose', 'alert'] as const;
export type DriftMode = (typeof DRIFT_MODES)[number];

export const Name = Type.String({
  description:
    'Resource name: lower-case letters, digits and dashes, starting and ending with a letter or digit (at most 63 characters).',
  pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
});

export const LabelKey = Type.String({
  pattern: '^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$',
});

export const Labels = Type.Record(LabelKey, Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$' }), {
  description:
    'Key/value labels used by selectors, e.g. `{ env: prod, team: support }`. Keys: letters, digits, `-`, `_` and `.`, optionally after a `domain/` prefix; values: at most 63 such characters.',
  additionalProperties: false,
});
export type Labels = Static<typeof Labels>;

export const Selector = Type.Object(
  {
    matchLabels: Type.Optional(
      Type.Record(LabelKey, Type.String(), {
        description: 'Every label listed must be present with exactly this value.',
        additionalProperties: false,
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: LabelKey,
            operator: Type.Enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], {
              description: '`In` / `NotIn` compare against `values`; `Exists` / `DoesNotExist` ignore them.',
            }),
            values: Type.Optional(Type.Array(Type.String())),
          },
          { additionalProperties: false },
        ),
        { description: 'Set-based requirements, all of which must hold.' },
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'A label selector, as in Kubernetes. An empty selector matches everything.',
  },
);
export type Selector = Static<typeof Selector>;

export const SecretRef = Type.Object(
  {
    secretRef: Type.String({
      description: 'Name of an age-encrypted secret stored as `secrets/<name>.age` (create it with `clawops secrets set <name>`).',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$',
    }),
  },
  { additionalProperties: false, description: 'A reference to a secret; the value never sits in YAML.' },
);
export type SecretRef = Static<typeof SecretRef>;

export const Metadata = Type.Object(
  {
    name: Name,
    labels: Type.Optional(Labels),
    annotations: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'Free-form notes; not used by selectors.' }),
    ),
  },
  { additionalProperties: false, description: 'Identity of the resource. `name` is unique per kind within the repo.' },
);
export type Metadata = Static<typeof Metadata>;

export const DriftPolicy = Type.Object(
  {
    mode: Type.Enum([...DRIFT_MODES], {
      description:
        '`revert`: put live back to git (self-heal). `propose`: open a drift pull request that edits the YAML to match live. `alert`: record it and exit 2.',
    }),
  },
  { additionalProperties: false, description: 'What to do when live config differs from what clawops last applied.' },
);

export const IgnoreRules = Type.Array(
  Type.Object(
    {
      path: Type.String({
        minLength: 1,
        description: 'A glob over the resource path, e.g. `spec.config.heartbeat.**`. Matching fields are never diffed, applied or reported as drift.',
      }),
      reason: Type.Optional(Type.String({ description: 'Why this field is left to the gateway.' })),
    },
    { additionalProperties: false },
  ),
  { description: 'Fields clawops must leave alone on the live side.' },
);

/** A kind-tagged union that ajv checks with its `discriminator` keyword, so errors come from the matching branch only. */
export function oneOfByKind<T extends TSchema[]>(variants: [...T], description: string) {
  return Type.Unsafe<Static<T[number]>>({
    type: 'object',
    description,
    required: ['kind'],
    properties: { kind: { type: 'string' } },
    discriminator: { propertyName: 'kind' },
    oneOf: variants,
  });
}

/** The Kubernetes-style envelope every resource kind shares. */
export function resource<K extends string, S extends TSchema>(kind: K, spec: S, description: string) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_VERSION, { description: `Always \`${API_VERSION}\`.` }),
      kind: Type.Literal(kind),
      metadata: Metadata,
      spec,
    },
    { additionalProperties: false, description },
  );
}

/** The same schema with its own description, so an editor explains the field where it is used. */
export function describe<S extends TSchema>(schema: S, description: string): S {
  return { ...schema, description };
}
