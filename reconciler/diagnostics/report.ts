/** The `--json` shape of `clawops validate`, documented by `schemas/validate-output.schema.json`. */
import Type, { type Static } from 'typebox';
import { DIAGNOSTIC_CODES } from './diagnostic.ts';

const Position = {
  file: Type.String({ description: 'Path relative to the repo root.' }),
  line: Type.Optional(Type.Integer({ minimum: 1 })),
  col: Type.Optional(Type.Integer({ minimum: 1 })),
};

export const ValidateReport = Type.Object(
  {
    formatVersion: Type.Literal(1, { description: 'Bumped whenever a consumer must adapt.' }),
    valid: Type.Boolean({ description: 'True when there is no error (warnings allowed).' }),
    summary: Type.Object(
      {
        files: Type.Integer({ minimum: 0 }),
        resources: Type.Integer({ minimum: 0, description: 'Resources that passed their schema.' }),
        errors: Type.Integer({ minimum: 0 }),
        warnings: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    diagnostics: Type.Array(
      Type.Object(
        {
          severity: Type.Enum(['error', 'warning']),
          code: Type.Enum([...DIAGNOSTIC_CODES]),
          message: Type.String(),
          ...Position,
          resource: Type.Optional(Type.String({ description: '`Kind/name`.' })),
          field: Type.Optional(Type.String({ description: 'Dotted path, e.g. `spec.bindings[0].match`.' })),
          hint: Type.Optional(Type.String()),
          related: Type.Optional(Type.Object(Position, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
      { description: 'Sorted by file, line and column.' },
    ),
  },
  { additionalProperties: false, description: 'Output of `clawops validate --json`.' },
);
export type ValidateReport = Static<typeof ValidateReport>;
