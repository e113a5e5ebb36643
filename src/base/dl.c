/* base/dl.c: see dl.h. */
#include "base/dl.h"

#include <dlfcn.h>
#include <string.h>

#include "cairn/error.h"

int cairn__dl_load(const char *soname, const cairn__dl_sym *syms, size_t n, void *api,
                   void **ret_dl, const char **ret_missing)
{
    *ret_dl = NULL;
    void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (dl == NULL) {
        const char *err = dlerror();
        *ret_missing = err ? err : soname;
        return CAIRN_ENOTSUP;
    }
    for (size_t i = 0; i < n; i++) {
        void *f = dlsym(dl, syms[i].name);
        if (f == NULL) {
            dlclose(dl);
            *ret_missing = syms[i].name;
            return CAIRN_ENOTSUP;
        }
        memcpy((char *)api + syms[i].off, &f, sizeof f);
    }
    *ret_dl = dl;
    return 0;
}
