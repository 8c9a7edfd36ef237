// The binary datapath of one BoolNet block: matrix-vector unit -> threshold unit ->
// (optional) pooling unit, and the logic unit beside them.
//
//   window stream --> bn_mvu --d--> bn_threshold --vector--> [bn_pool] --> out
//                  (x_d: accumulators from outside, for the threshold cases)
//   a, r vectors  --> bn_logic --> l_o
//
// The line buffer and the permutation unit (padding, windows, slice selection) are not part of
// this RTL: the testbench plays them and presents one pixel's window vector per cycle.
`timescale 1ns/1ps
module bn_datapath #(
    parameter PE = 4,
    parameter SIMD = 8,
    parameter ACC_BITS = 16,
    parameter WIN_WORDS = 512,
    parameter WDEPTH = 1024,
    parameter MAXSLOT = 64,
    parameter MAXS = 4,
    parameter MAXKO = 2,
    parameter MAXWO = 16
) (
    input  wire                       clk,
    input  wire                       rst,
    // layer configuration
    input  wire [15:0]                cfg_cout,
    input  wire [15:0]                cfg_k,
    input  wire [3:0]                 cfg_s,
    input  wire [3:0]                 cfg_ko,
    input  wire                       cfg_ext_d,     // threshold unit fed from x_d_*
    input  wire                       cfg_pool,      // pool the threshold unit's vectors
    input  wire                       cfg_pool_ext,  // pool x_p_* vectors (POOLU-1)
    input  wire                       cfg_pool_or,   // mask all ones (POOLU-1)
    input  wire [7:0]                 cfg_pool_k,
    input  wire [15:0]                cfg_h,
    input  wire [15:0]                cfg_w,
    // parameter memories
    input  wire                       w_we,
    input  wire [7:0]                 w_lane,
    input  wire [15:0]                w_addr,
    input  wire [63:0]                w_data,
    input  wire                       g_we,
    input  wire [7:0]                 g_lane,
    input  wire [7:0]                 g_slot,
    input  wire [7:0]                 g_data,
    input  wire                       t_we,
    input  wire [7:0]                 t_lane,
    input  wire [7:0]                 t_slot,
    input  wire [3:0]                 t_slice,
    input  wire                       t_pol,
    input  wire [15:0]                t_val,
    // window stream
    input  wire                       win_valid,
    output wire                       win_ready,
    input  wire [WIN_WORDS*64-1:0]    win_data,
    // external accumulators and vectors
    input  wire                       x_d_valid,
    input  wire [7:0]                 x_d_nf,
    input  wire                       x_d_last,
    input  wire [PE*ACC_BITS-1:0]     x_d_vec,
    input  wire                       x_p_valid,
    input  wire [MAXS*MAXKO*64-1:0]   x_p_vec,
    // MVU observation
    output wire                       d_valid,
    output wire [7:0]                 d_nf,
    output wire                       d_last,
    output wire [PE*ACC_BITS-1:0]     d_vec,
    output wire [PE-1:0]              d_ovf,
    output wire                       ovf_flag,
    output wire [31:0]                busy_cycles,
    // packed output vectors
    output wire                       o_valid,
    output wire [MAXS*MAXKO*64-1:0]   o_vec,
    // logic unit
    input  wire [15:0]                l_c,
    input  wire                       l_op_or,
    input  wire                       l_valid,
    input  wire [MAXS*MAXKO*64-1:0]   l_a,
    input  wire [MAXS*MAXKO*64-1:0]   l_r,
    output wire                       l_o_valid,
    output wire [MAXS*MAXKO*64-1:0]   l_o,
    output wire                       l_err
);
    localparam VB = MAXS * MAXKO * 64;

    bn_mvu #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS), .WIN_WORDS(WIN_WORDS),
             .WDEPTH(WDEPTH), .MAXSLOT(MAXSLOT)) mvu (
        .clk(clk), .rst(rst), .cfg_cout(cfg_cout), .cfg_k(cfg_k),
        .w_we(w_we), .w_lane(w_lane), .w_addr(w_addr), .w_data(w_data),
        .g_we(g_we), .g_lane(g_lane), .g_slot(g_slot), .g_data(g_data),
        .win_valid(win_valid), .win_ready(win_ready), .win_data(win_data),
        .d_valid(d_valid), .d_nf(d_nf), .d_last(d_last), .d_vec(d_vec), .d_ovf(d_ovf),
        .ovf_flag(ovf_flag), .busy_cycles(busy_cycles));

    wire t_valid;
    wire [VB-1:0] t_vec, pol_words;
    bn_threshold #(.PE(PE), .ACC_BITS(ACC_BITS), .MAXS(MAXS), .MAXKO(MAXKO),
                   .MAXSLOT(MAXSLOT)) thu (
        .clk(clk), .rst(rst), .cfg_cout(cfg_cout), .cfg_s(cfg_s), .cfg_ko(cfg_ko),
        .t_we(t_we), .t_lane(t_lane), .t_slot(t_slot), .t_slice(t_slice), .t_pol(t_pol),
        .t_val(t_val),
        .d_valid(cfg_ext_d ? x_d_valid : d_valid),
        .d_nf(cfg_ext_d ? x_d_nf : d_nf),
        .d_last(cfg_ext_d ? x_d_last : d_last),
        .d_vec(cfg_ext_d ? x_d_vec : d_vec),
        .o_valid(t_valid), .o_vec(t_vec), .pol_words(pol_words));

    wire p_valid;
    wire [VB-1:0] p_vec;
    bn_pool #(.VB(VB), .MAXWO(MAXWO)) pool (
        .clk(clk), .rst(rst), .cfg_k(cfg_pool_k), .cfg_h(cfg_h), .cfg_w(cfg_w),
        .mask(cfg_pool_or ? {VB{1'b1}} : pol_words),
        .i_valid(cfg_pool_ext ? x_p_valid : (cfg_pool & t_valid)),
        .i_vec(cfg_pool_ext ? x_p_vec : t_vec),
        .o_valid(p_valid), .o_vec(p_vec));

    assign o_valid = (cfg_pool || cfg_pool_ext) ? p_valid : t_valid;
    assign o_vec = (cfg_pool || cfg_pool_ext) ? p_vec : t_vec;

    bn_logic #(.MAXS(MAXS), .MAXK(MAXKO)) logic_unit (
        .clk(clk), .rst(rst), .cfg_s(cfg_s), .cfg_c(l_c), .cfg_k(cfg_ko), .op_or(l_op_or),
        .i_valid(l_valid), .a(l_a), .r(l_r), .o_valid(l_o_valid), .o(l_o), .err(l_err));
endmodule
