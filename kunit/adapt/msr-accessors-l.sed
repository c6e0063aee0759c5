# SPDX-License-Identifier: GPL-2.0-only
# Trees before v6.16 name the 64-bit MSR accessors rdmsrl()/wrmsrl();
# v6.16 renamed them rdmsrq()/wrmsrq().  The suite is written for mainline.
s/\<rdmsrq\>/rdmsrl/g
s/\<wrmsrq\>/wrmsrl/g
