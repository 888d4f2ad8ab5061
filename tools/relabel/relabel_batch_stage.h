/*
 * Copyright (C) ngx_http_moa_module authors
 *
 * moa-relabel --batch: the stages of a run, as the module names them, and
 * the proposal stages of the layers (moa_layers).
 */


#ifndef _MOA_RELABEL_BATCH_STAGE_H_INCLUDED_
#define _MOA_RELABEL_BATCH_STAGE_H_INCLUDED_


/* the stages of the recipe, as the module names them */
#define RELABEL_BATCH_PROPOSAL     1
#define RELABEL_BATCH_CRITIQUE     2
#define RELABEL_BATCH_SYNTHESIS    3
#define RELABEL_BATCH_SELECT       4           /* moa_aggregate select */
/* the proposals of layer k (moa_layers): 2..8 are stages 10..16 */
#define RELABEL_BATCH_NSTAGES      17          /* index 0 unused */
#define RELABEL_BATCH_MAX_LAYERS   8


/* the stage of layer k's proposals, and the layer of a stage (or 0) */
#define RELABEL_BATCH_LAYER(k)     ((k) == 1 ? RELABEL_BATCH_PROPOSAL : 8 + (k))

#define relabel_batch_stage_layer(s)                                          \
    ((s) == RELABEL_BATCH_PROPOSAL ? 1                                        \
     : (s) >= 10 && (s) < 8 + RELABEL_BATCH_MAX_LAYERS + 1 ? (s) - 8 : 0)


#endif /* _MOA_RELABEL_BATCH_STAGE_H_INCLUDED_ */
