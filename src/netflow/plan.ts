/**
 * Template → decode plan. A NetFlow v9 / IPFIX template is compiled once into parallel arrays of
 * (field kind, length) so the record loop is a switch over small integers and never looks up an
 * information element by id per record. Fields coinradar does not use become SKIP, and runs of
 * fixed-length skips are merged into one.
 */

/** What the record loop does with a field. */
export const enum FieldKind {
  SKIP = 0,
  SRC4,
  DST4,
  SRC6,
  DST6,
  SRC_PORT,
  DST_PORT,
  PROTO,
  TCP_FLAGS,
  PACKETS,
  BYTES,
  REV_PACKETS,
  REV_BYTES,
  /** sysUpTime-relative milliseconds (v9 FIRST/LAST_SWITCHED, IPFIX flowStart/EndSysUpTime). */
  START_UPTIME,
  END_UPTIME,
  START_SEC,
  END_SEC,
  START_MS,
  END_MS,
  /** NTP-format 64-bit timestamps (dateTimeMicroseconds / dateTimeNanoseconds). */
  START_NTP,
  END_NTP,
  START_DELTA_US,
  END_DELTA_US,
  SYS_INIT_MS,
  SAMPLING_INTERVAL,
  SAMPLING_PKT_INTERVAL,
  SAMPLING_PKT_SPACE,
  ICMP_TYPE_CODE,
}

/** Information element ids (IANA IPFIX registry; NetFlow v9 uses the same numbers). */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  flowEndSysUpTime: 21,
  flowStartSysUpTime: 22,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  icmpTypeCodeIPv4: 32,
  samplingInterval: 34,
  samplingAlgorithm: 35,
  samplerRandomInterval: 50,
  octetTotalCount: 85,
  packetTotalCount: 86,
  icmpTypeCodeIPv6: 139,
  flowStartSeconds: 150,
  flowEndSeconds: 151,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  flowStartMicroseconds: 154,
  flowEndMicroseconds: 155,
  flowStartNanoseconds: 156,
  flowEndNanoseconds: 157,
  flowStartDeltaMicroseconds: 158,
  flowEndDeltaMicroseconds: 159,
  systemInitTimeMilliseconds: 160,
  samplingPacketInterval: 305,
  samplingPacketSpace: 306,
} as const;

/** RFC 5103 reverse information elements are the forward ids under this enterprise number. */
export const REVERSE_PEN = 29305;
/** IPFIX variable-length marker in a field specifier. */
export const VARLEN = 0xffff;

/** Field lengths an element must have for coinradar to interpret it (others are skipped). */
function kindOf(id: number, len: number, pen: number): FieldKind {
  const counter = len >= 1 && len <= 8;
  if (pen === REVERSE_PEN) {
    if ((id === IE.packetDeltaCount || id === IE.packetTotalCount) && counter) return FieldKind.REV_PACKETS;
    if ((id === IE.octetDeltaCount || id === IE.octetTotalCount) && counter) return FieldKind.REV_BYTES;
    return FieldKind.SKIP;
  }
  if (pen !== 0) return FieldKind.SKIP;
  switch (id) {
    case IE.sourceIPv4Address:
      return len === 4 ? FieldKind.SRC4 : FieldKind.SKIP;
    case IE.destinationIPv4Address:
      return len === 4 ? FieldKind.DST4 : FieldKind.SKIP;
    case IE.sourceIPv6Address:
      return len === 16 ? FieldKind.SRC6 : FieldKind.SKIP;
    case IE.destinationIPv6Address:
      return len === 16 ? FieldKind.DST6 : FieldKind.SKIP;
    case IE.sourceTransportPort:
      return len === 2 ? FieldKind.SRC_PORT : FieldKind.SKIP;
    case IE.destinationTransportPort:
      return len === 2 ? FieldKind.DST_PORT : FieldKind.SKIP;
    case IE.protocolIdentifier:
      return len === 1 ? FieldKind.PROTO : FieldKind.SKIP;
    case IE.tcpControlBits:
      return len === 1 || len === 2 ? FieldKind.TCP_FLAGS : FieldKind.SKIP;
    case IE.packetDeltaCount:
    case IE.packetTotalCount:
      return counter ? FieldKind.PACKETS : FieldKind.SKIP;
    case IE.octetDeltaCount:
    case IE.octetTotalCount:
      return counter ? FieldKind.BYTES : FieldKind.SKIP;
    case IE.flowStartSysUpTime:
      return len === 4 ? FieldKind.START_UPTIME : FieldKind.SKIP;
    case IE.flowEndSysUpTime:
      return len === 4 ? FieldKind.END_UPTIME : FieldKind.SKIP;
    case IE.flowStartSeconds:
      return len === 4 ? FieldKind.START_SEC : FieldKind.SKIP;
    case IE.flowEndSeconds:
      return len === 4 ? FieldKind.END_SEC : FieldKind.SKIP;
    case IE.flowStartMilliseconds:
      return len === 8 ? FieldKind.START_MS : FieldKind.SKIP;
    case IE.flowEndMilliseconds:
      return len === 8 ? FieldKind.END_MS : FieldKind.SKIP;
    case IE.flowStartMicroseconds:
    case IE.flowStartNanoseconds:
      return len === 8 ? FieldKind.START_NTP : FieldKind.SKIP;
    case IE.flowEndMicroseconds:
    case IE.flowEndNanoseconds:
      return len === 8 ? FieldKind.END_NTP : FieldKind.SKIP;
    case IE.flowStartDeltaMicroseconds:
      return len === 4 ? FieldKind.START_DELTA_US : FieldKind.SKIP;
    case IE.flowEndDeltaMicroseconds:
      return len === 4 ? FieldKind.END_DELTA_US : FieldKind.SKIP;
    case IE.systemInitTimeMilliseconds:
      return len === 8 ? FieldKind.SYS_INIT_MS : FieldKind.SKIP;
    case IE.samplingInterval:
    case IE.samplerRandomInterval:
      return len >= 1 && len <= 4 ? FieldKind.SAMPLING_INTERVAL : FieldKind.SKIP;
    case IE.samplingPacketInterval:
      return len >= 1 && len <= 4 ? FieldKind.SAMPLING_PKT_INTERVAL : FieldKind.SKIP;
    case IE.samplingPacketSpace:
      return len >= 1 && len <= 4 ? FieldKind.SAMPLING_PKT_SPACE : FieldKind.SKIP;
    case IE.icmpTypeCodeIPv4:
    case IE.icmpTypeCodeIPv6:
      return len === 2 ? FieldKind.ICMP_TYPE_CODE : FieldKind.SKIP;
    default:
      return FieldKind.SKIP;
  }
}

/** One field of a template as it arrived (kept for equality checks on refresh and for docs/tests). */
export interface TemplateField {
  id: number;
  length: number;
  /** Private enterprise number, 0 for IANA elements. */
  pen: number;
}

/** A compiled template. */
export interface DecodePlan {
  templateId: number;
  /** Options templates describe exporter metadata (sampling, system init time), not flows. */
  options: boolean;
  /**
   * The template record as it arrived (latin1 text of its bytes), to tell a refresh from a changed
   * layout. A string, not an object per field, and plain arrays below, not typed arrays (each of
   * those carries its own buffer): a plan is a few hundred bytes, and caps allow 524,288 of them.
   */
  spec: string;
  /** Per compiled step: what to do and how many bytes (VARLEN = IPFIX variable length). */
  kinds: number[];
  lens: number[];
  steps: number;
  /** Smallest possible record length (a variable-length field counts its 1-byte length prefix). */
  minLength: number;
  hasVarLen: boolean;
  /** Set by every data set decoded with it; template eviction clears it (second chance, ~LRU). */
  used: boolean;
  /** Whether the record carries addresses (a flow template) — options records never do. */
  flowish: boolean;
}

/** Compile a field list. Caller has already checked the field count against the set length. */
export function compilePlan(
  templateId: number,
  fields: TemplateField[],
  options: boolean,
  spec = '',
): DecodePlan {
  const kinds: number[] = [];
  const lens: number[] = [];
  let minLength = 0;
  let hasVarLen = false;
  let flowish = false;
  for (const f of fields) {
    const kind = f.length === VARLEN ? FieldKind.SKIP : kindOf(f.id, f.length, f.pen);
    if (f.length === VARLEN) {
      hasVarLen = true;
      minLength += 1;
    } else minLength += f.length;
    if (
      kind === FieldKind.SRC4 ||
      kind === FieldKind.SRC6 ||
      kind === FieldKind.DST4 ||
      kind === FieldKind.DST6
    ) {
      flowish = true;
    }
    const last = kinds.length - 1;
    if (
      kind === FieldKind.SKIP &&
      f.length !== VARLEN &&
      last >= 0 &&
      kinds[last] === FieldKind.SKIP &&
      lens[last] !== VARLEN &&
      lens[last] + f.length < VARLEN
    ) {
      lens[last] += f.length;
      continue;
    }
    kinds.push(kind);
    lens.push(f.length);
  }
  return {
    templateId,
    options,
    spec,
    kinds,
    lens,
    steps: kinds.length,
    minLength,
    hasVarLen,
    flowish,
    used: false,
  };
}
