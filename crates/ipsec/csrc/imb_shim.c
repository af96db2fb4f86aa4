/*
 * intel-ipsec-mb's AES-GCM entry points for burst-ipsec (feature `ipsec-mb`).
 *
 * The library's direct API is a set of macros over function pointers inside IMB_MGR, whose
 * layout changes between releases; this shim reads those pointers (and the sizes of the
 * key and context structures) through the installed header, so the Rust side never
 * depends on the manager's layout. Called once per process; the manager is freed once its
 * pointers are copied (the direct GCM API keeps no state in it).
 */
#include <stddef.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

typedef void (*burst_gcm_fn)(void);

struct burst_imb_gcm {
        int arch;
        size_t key_size;
        size_t key_align;
        size_t ctx_size;
        size_t ctx_align;
        burst_gcm_fn pre128;
        burst_gcm_fn enc128;
        burst_gcm_fn dec128;
        burst_gcm_fn pre256;
        burst_gcm_fn enc256;
        burst_gcm_fn dec256;
        const char *version;
};

/* Returns 0 and fills `out`, or a negative number (allocation or CPU detection failed). */
int burst_imb_gcm_init(struct burst_imb_gcm *out)
{
        IMB_MGR *m = alloc_mb_mgr(0);
        IMB_ARCH arch = IMB_ARCH_NONE;

        if (m == NULL)
                return -1;
        init_mb_mgr_auto(m, &arch);
        if (imb_get_errno(m) != 0 || arch == IMB_ARCH_NONE || m->gcm128_enc == NULL ||
            m->gcm128_dec == NULL || m->gcm128_pre == NULL || m->gcm256_enc == NULL ||
            m->gcm256_dec == NULL || m->gcm256_pre == NULL) {
                free_mb_mgr(m);
                return -2;
        }
        out->arch = (int)arch;
        out->key_size = sizeof(struct gcm_key_data);
        out->key_align = _Alignof(struct gcm_key_data);
        out->ctx_size = sizeof(struct gcm_context_data);
        out->ctx_align = _Alignof(struct gcm_context_data);
        out->pre128 = (burst_gcm_fn)m->gcm128_pre;
        out->enc128 = (burst_gcm_fn)m->gcm128_enc;
        out->dec128 = (burst_gcm_fn)m->gcm128_dec;
        out->pre256 = (burst_gcm_fn)m->gcm256_pre;
        out->enc256 = (burst_gcm_fn)m->gcm256_enc;
        out->dec256 = (burst_gcm_fn)m->gcm256_dec;
        out->version = imb_get_version_str();
        /* The pointers are code addresses in the library, valid without the manager. */
        free_mb_mgr(m);
        return 0;
}
