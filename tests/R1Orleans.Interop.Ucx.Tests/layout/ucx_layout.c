/* Prints the size and field offsets of every UCX 1.13 struct that R1Orleans.Interop.Ucx passes across the boundary.
   Development-time tool: gcc -I/usr/include ucx_layout.c -o /tmp/ucx_layout && /tmp/ucx_layout
   (needs libucx-dev); its output is the source of the figures in UcxStructLayoutTests.cs. */
#include <stddef.h>
#include <stdio.h>
#include <ucp/api/ucp.h>

#define S(t) printf("%s size %zu\n", #t, sizeof(t))
#define O(t, f) printf("  %s.%s %zu\n", #t, #f, offsetof(t, f))

int main(void)
{
    printf("UCP_API %d.%d\n", UCP_API_MAJOR, UCP_API_MINOR);
    S(ucp_params_t);
    O(ucp_params_t, field_mask); O(ucp_params_t, features); O(ucp_params_t, request_size);
    O(ucp_params_t, request_init); O(ucp_params_t, request_cleanup); O(ucp_params_t, tag_sender_mask);
    O(ucp_params_t, mt_workers_shared); O(ucp_params_t, estimated_num_eps); O(ucp_params_t, estimated_num_ppn);
    O(ucp_params_t, name);
    S(ucs_cpu_set_t);
    S(ucp_worker_params_t);
    O(ucp_worker_params_t, field_mask); O(ucp_worker_params_t, thread_mode); O(ucp_worker_params_t, cpu_mask);
    O(ucp_worker_params_t, events); O(ucp_worker_params_t, user_data); O(ucp_worker_params_t, event_fd);
    O(ucp_worker_params_t, flags); O(ucp_worker_params_t, name); O(ucp_worker_params_t, am_alignment);
    O(ucp_worker_params_t, client_id);
    S(ucs_sock_addr_t);
    S(ucp_err_handler_t);
    S(ucp_ep_params_t);
    O(ucp_ep_params_t, field_mask); O(ucp_ep_params_t, address); O(ucp_ep_params_t, err_mode);
    O(ucp_ep_params_t, err_handler); O(ucp_ep_params_t, user_data); O(ucp_ep_params_t, flags);
    O(ucp_ep_params_t, sockaddr); O(ucp_ep_params_t, conn_request); O(ucp_ep_params_t, name);
    O(ucp_ep_params_t, local_sockaddr);
    S(ucp_request_param_t);
    O(ucp_request_param_t, op_attr_mask); O(ucp_request_param_t, flags); O(ucp_request_param_t, request);
    O(ucp_request_param_t, cb); O(ucp_request_param_t, datatype); O(ucp_request_param_t, user_data);
    O(ucp_request_param_t, reply_buffer); O(ucp_request_param_t, memory_type); O(ucp_request_param_t, recv_info);
    O(ucp_request_param_t, memh);
    S(ucp_am_handler_param_t);
    O(ucp_am_handler_param_t, field_mask); O(ucp_am_handler_param_t, id); O(ucp_am_handler_param_t, flags);
    O(ucp_am_handler_param_t, cb); O(ucp_am_handler_param_t, arg);
    S(ucp_am_recv_param_t);
    O(ucp_am_recv_param_t, recv_attr); O(ucp_am_recv_param_t, reply_ep);
    printf("UCS_THREAD_MODE_SINGLE %d MULTI %d\n", UCS_THREAD_MODE_SINGLE, UCS_THREAD_MODE_MULTI);
    printf("UCP_ERR_HANDLING_MODE_PEER %d\n", UCP_ERR_HANDLING_MODE_PEER);
    printf("UCP_AM_RECV_ATTR_FLAG_DATA %lu RNDV %lu\n", (unsigned long)UCP_AM_RECV_ATTR_FLAG_DATA,
           (unsigned long)UCP_AM_RECV_ATTR_FLAG_RNDV);
    printf("UCP_AM_FLAG_WHOLE_MSG %d\n", UCP_AM_FLAG_WHOLE_MSG);
    printf("UCP_WAKEUP_RX %d TX %d\n", UCP_WAKEUP_RX, UCP_WAKEUP_TX);
    printf("ucp_dt_make_contig(1) %lu\n", (unsigned long)ucp_dt_make_contig(1));
    printf("UCS_MEMORY_TYPE_HOST %d\n", UCS_MEMORY_TYPE_HOST);
    return 0;
}
