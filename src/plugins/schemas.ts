// Registers every named schema once, so routes can $ref them and the OpenAPI document names them.
import fp from 'fastify-plugin';

import { ALL_SCHEMAS } from '../schemas/index.js';

export default fp(
  async (app) => {
    for (const s of ALL_SCHEMAS) app.addSchema(s);
  },
  { name: 'gamesrv-schemas' },
);
