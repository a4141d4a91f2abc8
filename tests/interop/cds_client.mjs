// A real CDS Hooks client playing the EHR: Medplum's buildCdsRequest fills the
// prefetch from the FHIR server exactly as Medplum's EHR does; discovery and the
// call are a few lines of fetch around it (Medplum exports neither for a foreign
// service).
//
//   node [--experimental-websocket] cds_client.mjs < call.json
//
// call.json: {
//   "cdsServices": "http://host:port/cds-services",   discovery URL of the service
//   "fhirBase": "http://host:port/fhir/R4",            the EHR's FHIR server
//   "ehrToken": "...",        the EHR's own token for its prefetch reads
//   "serviceToken": "...",    the token it grants the service (fhirAuthorization)
//   "hook": "patient-view", "user": "Practitioner/x", "context": {...},
//   "mode": "prefetch"     buildCdsRequest fills every prefetch key, nothing else is sent
//         | "fhir-server"  no prefetch: fhirServer and fhirAuthorization, the service fetches
//         | "sandbox"      the CDS Hooks sandbox's shape: prefetch without unresolved keys,
//                          fhirServer without fhirAuthorization
//   "tokens": {"<url>": "<JWT>"}   the EHR's signed token for each URL it calls, if any
// }
// Prints one JSON object: {"service": <discovered>, "request": <body sent>,
// "status": <HTTP status>, "response": <JSON body>}.
import { randomUUID } from 'node:crypto';

import { MedplumClient, buildCdsRequest } from '@medplum/core';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Headers for a call to `url`, with the EHR's JWT for exactly that URL when it signs. */
function headersFor(call, url, extra = {}) {
  const token = call.tokens?.[url];
  return { Accept: 'application/json', ...extra, ...(token ? { Authorization: `Bearer ${token}` } : {}) };
}

async function discover(call) {
  const response = await fetch(call.cdsServices, { headers: headersFor(call, call.cdsServices) });
  if (!response.ok) {
    throw new Error(`discovery answered HTTP ${response.status}`);
  }
  const { services } = await response.json();
  const service = services.find((candidate) => candidate.hook === call.hook);
  if (!service) {
    throw new Error(`no service for hook ${call.hook}`);
  }
  return service;
}

async function prefetched(call, service) {
  const base = new URL(call.fhirBase);
  const medplum = new MedplumClient({
    baseUrl: base.origin,
    fhirUrlPath: base.pathname,
    accessToken: call.ehrToken,
    cacheTime: 0,
  });
  const user = await medplum.readReference({ reference: call.user });
  return buildCdsRequest(medplum, user, service, call.context);
}

async function requestFor(call, service) {
  if (call.mode === 'prefetch') {
    return prefetched(call, service);
  }
  if (call.mode === 'fhir-server') {
    return {
      hook: service.hook,
      hookInstance: randomUUID(),
      fhirServer: call.fhirBase,
      fhirAuthorization: {
        access_token: call.serviceToken,
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'patient/*.read',
        subject: 'footdrop-cds',
        patient: call.context.patientId,
      },
      context: call.context,
    };
  }
  if (call.mode === 'sandbox') {
    const request = await prefetched(call, service);
    const prefetch = Object.fromEntries(Object.entries(request.prefetch).filter(([, value]) => value !== null));
    return { ...request, fhirServer: call.fhirBase, prefetch };
  }
  throw new Error(`unknown mode ${call.mode}`);
}

const call = await readStdin();
const service = await discover(call);
const request = await requestFor(call, service);
const url = `${call.cdsServices}/${service.id}`;
const headers = headersFor(call, url, { 'Content-Type': 'application/json' });
const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request) });
const body = await response.json();
process.stdout.write(`${JSON.stringify({ service, request, status: response.status, response: body })}\n`);
