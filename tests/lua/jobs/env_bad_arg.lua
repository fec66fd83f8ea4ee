return { tenant = env() }
