/*
 * result.c - names of the RFC 7281 S/MIME verification results as they
 * appear in Authentication-Results.
 */
#include "config.h"

#include "result.h"

const char *smime_result_name(smime_result_t r)
{
    switch (r) {
    case SMIME_RESULT_NONE:      return "none";
    case SMIME_RESULT_PASS:      return "pass";
    case SMIME_RESULT_FAIL:      return "fail";
    case SMIME_RESULT_POLICY:    return "policy";
    case SMIME_RESULT_NEUTRAL:   return "neutral";
    case SMIME_RESULT_TEMPERROR: return "temperror";
    case SMIME_RESULT_PERMERROR: return "permerror";
    }
    return "permerror";
}
