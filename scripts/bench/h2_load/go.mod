module h2_load

go 1.26.8
