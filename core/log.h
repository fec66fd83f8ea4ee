/* Process-wide logger: one line per event, text or JSON, safe from any thread. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <sluice/plugin.h>
#include <stdarg.h>

typedef enum { SL_LOGFMT_TEXT = 0, SL_LOGFMT_JSON = 1 } sl_log_format;

void sl_log_setup(sl_log_format fmt, sl_log_level max_level);
/* tenant and plugin may be NULL. plugin reads "<kind>/<name>". */
void sl_logv(sl_log_level lvl, const char *tenant, const char *plugin, const char *fmt, va_list ap)
    SL_PRINTF(4, 0);
void sl_log(sl_log_level lvl, const char *tenant, const char *plugin, const char *fmt, ...)
    SL_PRINTF(4, 5);

#endif
