/* mystream_none.c - the build without the binlog decoder (mybinlog.c): no streaming. */
#include "mysrc.h"

int sl_my_stream_available(void)
{
    return 0;
}

int sl_my_stream_start(mysrc *s, const sl_my_pos *from)
{
    (void)from;
    s->api->set_error(s->h, "mysql: binlog streaming is not in this build");
    return -1;
}

sl_status sl_my_stream_poll(mysrc *s, int timeout_ms)
{
    (void)timeout_ms;
    s->api->set_error(s->h, "mysql: binlog streaming is not in this build");
    return SL_ERROR;
}

void sl_my_stream_stop(mysrc *s)
{
    (void)s;
}
