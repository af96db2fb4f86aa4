/* See shim.h. Compiled with DPDK's own cflags (pkg-config), so the inlines match the library. */
#include "wrapper.h"

uint16_t burst_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
                                uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t burst_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                                uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

uint16_t burst_rte_eth_tx_prepare(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                                  uint16_t nb_pkts)
{
	return rte_eth_tx_prepare(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *burst_rte_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

void burst_rte_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

int burst_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

/*
 * rte_pktmbuf_alloc_bulk for buffers about to be filled and sent, the way testpmd's txonly
 * allocates: raw mbufs from the pool (whose state DPDK guarantees: refcnt 1, next NULL,
 * nb_segs 1, restored by every free) with only the first cache line's fields reset.
 * rte_pktmbuf_reset also clears next and tx_offload in the second cache line; not touching
 * that line per packet is 10 % of a one-core generator's rate (docs/benchmarks.md). The
 * second line's tx_offload is left as the last user wrote it: the flags cleared here say
 * no offload, and the backend reads the lengths only under a flag.
 */
int burst_rte_pktmbuf_alloc_bulk_tx(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count)
{
	if (rte_mempool_get_bulk(mp, (void **)mbufs, count) != 0)
		return -ENOENT;
	for (unsigned i = 0; i < count; i++) {
		struct rte_mbuf *m = mbufs[i];
		m->data_off = RTE_MIN((uint16_t)RTE_PKTMBUF_HEADROOM, m->buf_len);
		m->data_len = 0;
		m->pkt_len = 0;
		m->ol_flags &= RTE_MBUF_F_EXTERNAL;
		m->packet_type = 0;
		m->port = RTE_MBUF_PORT_INVALID;
		m->vlan_tci = 0;
		m->vlan_tci_outer = 0;
	}
	return 0;
}

/*
 * Raw mbufs from the pool (through the calling lcore's cache), all or none: their state is
 * the pool's (refcnt 1, next NULL, nb_segs 1); the caller sets the rest of the header.
 */
int burst_rte_mempool_get_bulk(struct rte_mempool *mp, void **objs, unsigned count)
{
	return rte_mempool_get_bulk(mp, objs, count);
}

/* Gives raw mbufs taken with burst_rte_mempool_get_bulk back, unused. */
void burst_rte_mempool_put_bulk(struct rte_mempool *mp, void *const *objs, unsigned count)
{
	rte_mempool_put_bulk(mp, objs, count);
}

char *burst_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *burst_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

char *burst_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

int burst_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

int burst_rte_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail)
{
	return rte_pktmbuf_chain(head, tail);
}

uint16_t burst_rte_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t burst_rte_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

void *burst_rte_pktmbuf_mtod(const struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

unsigned burst_rte_lcore_id(void)
{
	return rte_lcore_id();
}

int burst_rte_errno(void)
{
	return rte_errno;
}

uint64_t burst_rte_rdtsc(void)
{
	return rte_rdtsc();
}

#define FLAG(name) const uint64_t burst_##name = (name)
FLAG(RTE_MBUF_F_RX_RSS_HASH);
FLAG(RTE_MBUF_F_RX_IP_CKSUM_MASK);
FLAG(RTE_MBUF_F_RX_IP_CKSUM_BAD);
FLAG(RTE_MBUF_F_RX_IP_CKSUM_GOOD);
FLAG(RTE_MBUF_F_RX_IP_CKSUM_NONE);
FLAG(RTE_MBUF_F_RX_L4_CKSUM_MASK);
FLAG(RTE_MBUF_F_RX_L4_CKSUM_BAD);
FLAG(RTE_MBUF_F_RX_L4_CKSUM_GOOD);
FLAG(RTE_MBUF_F_RX_L4_CKSUM_NONE);
FLAG(RTE_MBUF_F_EXTERNAL);
FLAG(RTE_MBUF_PORT_INVALID);
FLAG(RTE_MBUF_F_TX_TCP_SEG);
FLAG(RTE_MBUF_F_TX_TCP_CKSUM);
FLAG(RTE_MBUF_F_TX_UDP_CKSUM);
FLAG(RTE_MBUF_F_TX_L4_MASK);
FLAG(RTE_MBUF_F_TX_IP_CKSUM);
FLAG(RTE_MBUF_F_TX_IPV4);
FLAG(RTE_MBUF_F_TX_OFFLOAD_MASK);
FLAG(RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
FLAG(RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
FLAG(RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
FLAG(RTE_ETH_TX_OFFLOAD_TCP_TSO);
FLAG(RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
FLAG(RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE);
FLAG(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM);
FLAG(RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
FLAG(RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
FLAG(RTE_ETH_RX_OFFLOAD_RSS_HASH);
FLAG(RTE_ETH_RX_OFFLOAD_SCATTER);
FLAG(RTE_ETH_RSS_IPV4);
FLAG(RTE_ETH_RSS_FRAG_IPV4);
FLAG(RTE_ETH_RSS_NONFRAG_IPV4_TCP);
FLAG(RTE_ETH_RSS_NONFRAG_IPV4_UDP);
FLAG(RTE_ETH_RSS_NONFRAG_IPV4_OTHER);
FLAG(RTE_ETH_RSS_IP);
FLAG(RTE_ETH_RSS_TCP);
FLAG(RTE_ETH_RSS_UDP);
const uint32_t burst_RTE_MBUF_DEFAULT_BUF_SIZE = RTE_MBUF_DEFAULT_BUF_SIZE;
const uint32_t burst_RTE_PKTMBUF_HEADROOM = RTE_PKTMBUF_HEADROOM;
