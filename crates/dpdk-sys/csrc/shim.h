/*
 * Non-inline wrappers for DPDK's static-inline fast-path functions, so Rust can call them
 * (bindgen does not emit static inline functions), plus getters for per-lcore variables and
 * for flag values that bindgen cannot evaluate (RTE_BIT64(...) macros) or types too narrowly.
 */
#ifndef BURST_DPDK_SHIM_H
#define BURST_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/* ethdev fast path */
uint16_t burst_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
                                uint16_t nb_pkts);
uint16_t burst_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                                uint16_t nb_pkts);
uint16_t burst_rte_eth_tx_prepare(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                                  uint16_t nb_pkts);

/* mbuf */
struct rte_mbuf *burst_rte_pktmbuf_alloc(struct rte_mempool *mp);
void burst_rte_pktmbuf_free(struct rte_mbuf *m);
int burst_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
int burst_rte_pktmbuf_alloc_bulk_tx(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
int burst_rte_mempool_get_bulk(struct rte_mempool *mp, void **objs, unsigned count);
void burst_rte_mempool_put_bulk(struct rte_mempool *mp, void *const *objs, unsigned count);
char *burst_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *burst_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *burst_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int burst_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
int burst_rte_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
uint16_t burst_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t burst_rte_pktmbuf_tailroom(const struct rte_mbuf *m);
void *burst_rte_pktmbuf_mtod(const struct rte_mbuf *m);

/* lcore, errno, time */
unsigned burst_rte_lcore_id(void);
int burst_rte_errno(void);
uint64_t burst_rte_rdtsc(void);

/* Flag values exactly as the headers define them (tests compare the Rust constants). */
extern const uint64_t burst_RTE_MBUF_F_RX_RSS_HASH;
extern const uint64_t burst_RTE_MBUF_F_RX_IP_CKSUM_MASK;
extern const uint64_t burst_RTE_MBUF_F_RX_IP_CKSUM_BAD;
extern const uint64_t burst_RTE_MBUF_F_RX_IP_CKSUM_GOOD;
extern const uint64_t burst_RTE_MBUF_F_RX_IP_CKSUM_NONE;
extern const uint64_t burst_RTE_MBUF_F_RX_L4_CKSUM_MASK;
extern const uint64_t burst_RTE_MBUF_F_RX_L4_CKSUM_BAD;
extern const uint64_t burst_RTE_MBUF_F_RX_L4_CKSUM_GOOD;
extern const uint64_t burst_RTE_MBUF_F_RX_L4_CKSUM_NONE;
extern const uint64_t burst_RTE_MBUF_F_EXTERNAL;
extern const uint64_t burst_RTE_MBUF_PORT_INVALID;
extern const uint64_t burst_RTE_MBUF_F_TX_TCP_SEG;
extern const uint64_t burst_RTE_MBUF_F_TX_TCP_CKSUM;
extern const uint64_t burst_RTE_MBUF_F_TX_UDP_CKSUM;
extern const uint64_t burst_RTE_MBUF_F_TX_L4_MASK;
extern const uint64_t burst_RTE_MBUF_F_TX_IP_CKSUM;
extern const uint64_t burst_RTE_MBUF_F_TX_IPV4;
extern const uint64_t burst_RTE_MBUF_F_TX_OFFLOAD_MASK;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_TCP_TSO;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
extern const uint64_t burst_RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
extern const uint64_t burst_RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t burst_RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
extern const uint64_t burst_RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
extern const uint64_t burst_RTE_ETH_RX_OFFLOAD_RSS_HASH;
extern const uint64_t burst_RTE_ETH_RX_OFFLOAD_SCATTER;
extern const uint64_t burst_RTE_ETH_RSS_IPV4;
extern const uint64_t burst_RTE_ETH_RSS_FRAG_IPV4;
extern const uint64_t burst_RTE_ETH_RSS_NONFRAG_IPV4_TCP;
extern const uint64_t burst_RTE_ETH_RSS_NONFRAG_IPV4_UDP;
extern const uint64_t burst_RTE_ETH_RSS_NONFRAG_IPV4_OTHER;
extern const uint64_t burst_RTE_ETH_RSS_IP;
extern const uint64_t burst_RTE_ETH_RSS_TCP;
extern const uint64_t burst_RTE_ETH_RSS_UDP;
extern const uint32_t burst_RTE_MBUF_DEFAULT_BUF_SIZE;
extern const uint32_t burst_RTE_PKTMBUF_HEADROOM;

#endif
