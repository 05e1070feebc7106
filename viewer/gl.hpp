// OpenGL 3.3 core entry points. libGL (glvnd/Mesa, and the NVIDIA/AMD drivers) exports every core
// function directly, so no loader library is needed on Linux.
#pragma once
#ifndef GL_GLEXT_PROTOTYPES
#define GL_GLEXT_PROTOTYPES 1
#endif
#include <GL/glcorearb.h>
