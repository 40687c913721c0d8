// What a subtask acts on: its server (`serverId` of the event stream, named through the cluster's servers)
// and its zone. The task JSON of OCP's route carries neither; the event stream adds them from the task's
// own context, and the cluster's servers come from GET /api/v2/ob/clusters/{id}/servers.
import { api } from "./api.js";

// Server id → { label: "127.0.0.2:2881", zone }; empty when the task has no cluster or it cannot be read.
export async function serversOf(task) {
  const servers = new Map();
  if (!task.cluster || !task.cluster.id) return servers;
  try {
    const data = await api("GET", `/api/v2/ob/clusters/${task.cluster.id}/servers`);
    for (const s of data.contents || [])
      servers.set(s.id, { label: `${s.ip}:${s.sqlPort}`, zone: s.zoneName });
  } catch {
    // A user who may read the task but not the cluster sees server ids instead of addresses.
  }
  return servers;
}

export function serverLabel(s, servers) {
  if (s.serverId === undefined || s.serverId === null) return null;
  const known = servers.get(s.serverId);
  return known ? known.label : `server ${s.serverId}`;
}

// "Start observer process · 127.0.0.2:2881"; a per-zone step its zone; anything else its name (and index).
export function subtaskTitle(s, servers) {
  const server = serverLabel(s, servers);
  if (server) return `${s.name} · ${server}`;
  if (s.parallelIdx >= 0) return `${s.name} #${s.parallelIdx}`;
  return s.name;
}

// What the subtask acts on, in words: "127.0.0.2:2881 (zone1)", "zone zone1", or null.
export function subjectOf(s, servers) {
  const server = serverLabel(s, servers);
  if (server) return s.zone ? `${server} (${s.zone})` : server;
  return s.zone ? `zone ${s.zone}` : null;
}
