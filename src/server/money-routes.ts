/**
 * The money API the console's wallet page draws from, over the chain index `serve` holds open:
 * `GET /v1/chain/address/:address` (received, sent, balance and the cluster, as `coinradar chain
 * address` and `chain cluster`), `GET /v1/chain/trace` (one step of `coinradar chain trace`: the
 * console expands a graph hop by hop by asking for one hop from a node) and `GET
 * /v1/chain/exposure/:address` (`coinradar chain exposure`). Each calls the function the command
 * calls; the tags are the command's default ones (pools named by their coinbase payouts) plus the
 * addresses the loaded sanctions lists name, tagged `sanctioned`. Behind the same access check,
 * rate limit and audit as every route (access.ts decides on the matched route).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { policyLabel } from '../chain/cluster.js';
import { exposure } from '../chain/exposure.js';
import { attributePools } from '../chain/pools.js';
import { TAG_MINING_POOL, TAG_SANCTIONED, TagSet } from '../chain/tags.js';
import { trace } from '../chain/trace.js';
import type { ChainStore } from '../store/chain.js';
import { sendError } from './errors.js';
// The network routes' queue: with a chain index, serve reads flows through the same connection.
import { serialQueue } from './network.js';

export interface MoneyApi {
  store: ChainStore;
  /** Whether a loaded sanctions list names the address (the server's current index). */
  isListed: (address: string) => boolean;
}

/** Most cluster members one answer lists (the size is always given). */
export const MAX_CLUSTER_MEMBERS = 1000;
/** Most hops one trace or exposure answer follows (the console asks for one at a time). */
export const MAX_HOPS = 6;

const TXID = /^[0-9a-fA-F]{64}$/;
const addressParam = {
  params: {
    type: 'object',
    required: ['address'],
    properties: { address: { type: 'string', minLength: 1, maxLength: 128 } },
  },
} as const;

/** The command's tags (pools by coinbase payouts), and listed addresses as `sanctioned`. */
class ConsoleTags extends TagSet {
  constructor(private readonly isListed: (address: string) => boolean) {
    super();
  }

  override tagsOf(address: string): string[] {
    const own = super.tagsOf(address);
    return this.isListed(address) ? [...own, TAG_SANCTIONED] : own;
  }

  override labelsOf(address: string): string[] {
    const own = super.labelsOf(address);
    return this.isListed(address) ? [...own, TAG_SANCTIONED] : own;
  }
}

export function registerMoneyRoutes(app: FastifyInstance, api: MoneyApi): void {
  const { store } = api;
  // The chain index's own connection, one answer at a time (a trace of several hops is heavy).
  const oneAtATime = serialQueue();
  // Pool attribution reads every coinbase: once, when first asked (the index does not change
  // while serve holds it).
  let pools: Promise<Map<number, string>> | null = null;
  const tags = async (): Promise<TagSet> => {
    pools ??= attributePools(store).then((p) => p.byAddress);
    const byAddress = await pools;
    const t = new ConsoleTags(api.isListed);
    const texts = await store.addressTexts([...byAddress.keys()]);
    for (const [a, name] of byAddress) t.add(texts.get(a) ?? '', TAG_MINING_POOL, name, 'coinbase');
    return t;
  };
  const notIndexed = (reply: FastifyReply, what: string) =>
    sendError(reply, 404, 'not_found', `${what} is not in the chain index`);

  app.get<{ Params: { address: string } }>(
    '/v1/chain/address/:address',
    { schema: addressParam },
    (req, reply) =>
      oneAtATime(async () => {
        const address = req.params.address;
        const a = await store.address(address);
        const id = await store.addressIdOf(address);
        if (!a || id === null) return notIndexed(reply, `address ${address}`);
        const c = await store.clusterOf(id);
        const members = c === null ? [id] : await store.clusterMembers(c);
        const texts = await store.addressTexts(members.slice(0, MAX_CLUSTER_MEMBERS));
        const stats = await store.clusterStats();
        return {
          address: a,
          listed: api.isListed(address),
          cluster: {
            id: c,
            size: members.length,
            heuristics: policyLabel(stats.policy),
            coinjoinLikeSkipped: stats.coinjoinSkipped,
            members: [...texts.values()].map((m) => ({ address: m, listed: api.isListed(m) })),
          },
        };
      }),
  );

  app.get<{ Querystring: { seed: string; direction?: 'forward' | 'backward'; hops?: number } }>(
    '/v1/chain/trace',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['seed'],
          properties: {
            seed: { type: 'string', minLength: 1, maxLength: 128 },
            direction: { enum: ['forward', 'backward'] },
            hops: { type: 'integer', minimum: 1, maximum: MAX_HOPS },
          },
        },
      },
    },
    (req, reply) =>
      oneAtATime(async () => {
        const { seed: text } = req.query;
        const txId = TXID.test(text) ? await store.txIdOf(text) : null;
        let seed;
        if (txId !== null) seed = { kind: 'tx' as const, txId, label: text };
        else {
          const id = await store.addressIdOf(text);
          if (id === null)
            return notIndexed(reply, TXID.test(text) ? `transaction ${text}` : `address ${text}`);
          seed = { kind: 'address' as const, addressIds: [id], label: text };
        }
        return trace(
          store,
          seed,
          {
            direction: req.query.direction ?? 'forward',
            hops: req.query.hops ?? 1,
            level: 'address',
            policy: 'haircut',
          },
          await tags(),
        );
      }),
  );

  app.get<{ Params: { address: string }; Querystring: { hops?: number } }>(
    '/v1/chain/exposure/:address',
    {
      schema: {
        ...addressParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { hops: { type: 'integer', minimum: 1, maximum: MAX_HOPS } },
        },
      },
    },
    (req, reply) =>
      oneAtATime(async () => {
        const address = req.params.address;
        const id = await store.addressIdOf(address);
        if (id === null) return notIndexed(reply, `address ${address}`);
        return exposure(store, { addressIds: [id], label: address, level: 'address' }, await tags(), {
          hops: req.query.hops ?? 3,
          policy: 'haircut',
        });
      }),
  );
}
