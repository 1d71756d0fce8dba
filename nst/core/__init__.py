"""One image, one run: the settings, the costs of J and their evaluators, tiling, the memory planner, the schedule, the optimiser and the Stylizer."""
