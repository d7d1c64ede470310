#include "ContractsC.h"
