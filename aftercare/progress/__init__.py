"""A graduate's progress: days in aftercare, streaks, support sessions, coping skills, what comes next."""
