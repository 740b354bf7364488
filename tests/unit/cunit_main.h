/*
 * tests/unit/cunit_main.h - the main() of every CUnit test program.
 *
 * A test file defines its suites in a register function and ends with
 * MM_CUNIT_MAIN(register_fn). The program prints CUnit's report and then
 * one line "unit <prog>: N passed, N failed" that tests/check adds up;
 * it exits non-zero if any assertion or test failed.
 */
#ifndef MM_TESTS_CUNIT_MAIN_H
#define MM_TESTS_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

#define MM_CUNIT_MAIN(register_fn)                                              \
	int main(int argc, char **argv)                                         \
	{                                                                       \
		unsigned run, failed;                                           \
		(void)argc;                                                     \
		if (CU_initialize_registry() != CUE_SUCCESS)                    \
			return 2;                                               \
		register_fn();                                                  \
		CU_basic_set_mode(CU_BRM_VERBOSE);                              \
		CU_basic_run_tests();                                           \
		run = CU_get_number_of_tests_run();                             \
		failed = CU_get_number_of_tests_failed();                       \
		printf("unit %s: %u passed, %u failed\n", argv[0], run - failed, \
		       failed);                                                 \
		CU_cleanup_registry();                                          \
		return failed ? 1 : 0;                                          \
	}

#define MM_ADD_SUITE(suite_name_, tests_)                                               \
	do {                                                                    \
		CU_pSuite s_ = CU_add_suite(suite_name_, NULL, NULL);                  \
		for (size_t i_ = 0; i_ < sizeof(tests_) / sizeof(tests_[0]); i_++) \
			CU_add_test(s_, tests_[i_].name, tests_[i_].fn);          \
	} while (0)

struct mm_test {
	const char *name;
	CU_TestFunc fn;
};

#endif
