#include "ergon/vault.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ergon {
namespace {

// A secrets file in a fresh temporary directory, removed afterwards.
class VaultFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "ergon-vault-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& text) {
    std::string path = (dir_ / "secrets.env").string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(VaultFileTest, ParsesNamesValuesCommentsAndBlankLines) {
  std::string path = write(
      "# cloud credentials\n"
      "\n"
      "ACME_TOKEN=tok-123456\n"
      "  SPACED_NAME = padded value  \n"
      "QUOTED=\"with spaces\"\n"
      "WITH_EQUALS=a=b=c\n"
      "EMPTY=\n");
  auto vault = Vault::open(path);
  ASSERT_TRUE(vault) << vault.error().message;
  EXPECT_EQ((*vault)->get("ACME_TOKEN").value(), "tok-123456");
  EXPECT_EQ((*vault)->get("SPACED_NAME").value(), "padded value");
  EXPECT_EQ((*vault)->get("QUOTED").value(), "with spaces");
  EXPECT_EQ((*vault)->get("WITH_EQUALS").value(), "a=b=c");
  EXPECT_EQ((*vault)->get("EMPTY").value(), "");
}

TEST_F(VaultFileTest, MalformedLineNamesFileAndLineButNotTheValue) {
  std::string path = write("GOOD=value-one\n# comment\nthis line leaks hunter22\n");
  auto vault = Vault::open(path);
  ASSERT_FALSE(vault);
  EXPECT_EQ(vault.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(vault.error().message.find(path + ":3: expected NAME=value"), std::string::npos)
      << vault.error().message;
  EXPECT_EQ(vault.error().message.find("hunter22"), std::string::npos);
}

TEST_F(VaultFileTest, InvalidNameIsMalformed) {
  auto vault = Vault::open(write("1BAD=value\n"));
  ASSERT_FALSE(vault);
  EXPECT_NE(vault.error().message.find(":1: expected NAME=value"), std::string::npos);
}

TEST_F(VaultFileTest, MissingFileIsNotFound) {
  auto vault = Vault::open((dir_ / "absent.env").string());
  ASSERT_FALSE(vault);
  EXPECT_EQ(vault.error().code, ErrorCode::kNotFound);
  EXPECT_NE(vault.error().message.find("absent.env"), std::string::npos);
}

TEST_F(VaultFileTest, FileWinsOverEnvironment) {
  ASSERT_EQ(setenv("ERGON_VAULT_TEST_SHARED", "from-env", 1), 0);
  ASSERT_EQ(setenv("ERGON_VAULT_TEST_ENV_ONLY", "env-only-value", 1), 0);
  auto vault = Vault::open(write("ERGON_VAULT_TEST_SHARED=from-file\n"));
  ASSERT_TRUE(vault) << vault.error().message;
  EXPECT_EQ((*vault)->get("ERGON_VAULT_TEST_SHARED").value(), "from-file");
  EXPECT_EQ((*vault)->get("ERGON_VAULT_TEST_ENV_ONLY").value(), "env-only-value");
  unsetenv("ERGON_VAULT_TEST_SHARED");
  unsetenv("ERGON_VAULT_TEST_ENV_ONLY");
}

TEST(Vault, UnknownSecretIsNotFoundAndNamesIt) {
  unsetenv("ERGON_VAULT_TEST_ABSENT");
  auto vault = Vault::open();
  ASSERT_TRUE(vault);
  auto value = (*vault)->get("ERGON_VAULT_TEST_ABSENT");
  ASSERT_FALSE(value);
  EXPECT_EQ(value.error().code, ErrorCode::kNotFound);
  EXPECT_NE(value.error().message.find("ERGON_VAULT_TEST_ABSENT"), std::string::npos);
}

TEST(Vault, RedactsOnlyHandedOutValues) {
  auto vault = Vault::open();
  ASSERT_TRUE(vault);
  (*vault)->put("TOKEN", "s3cr3t-token");
  (*vault)->put("UNUSED", "never-asked-for");
  EXPECT_EQ((*vault)->redact(std::string("Bearer s3cr3t-token")), "Bearer s3cr3t-token");
  ASSERT_TRUE((*vault)->get("TOKEN"));
  EXPECT_EQ((*vault)->redact(std::string("Bearer s3cr3t-token, again s3cr3t-token")),
            "Bearer ***, again ***");
  EXPECT_EQ((*vault)->redact(std::string("never-asked-for")), "never-asked-for");
}

TEST(Vault, RedactsLongestFirstAndSkipsShortValues) {
  auto vault = Vault::open();
  ASSERT_TRUE(vault);
  (*vault)->put("SHORT", "abc");
  (*vault)->put("PASS", "pass");
  (*vault)->put("PASSWORD", "password1");
  ASSERT_TRUE((*vault)->get("SHORT"));
  ASSERT_TRUE((*vault)->get("PASS"));
  ASSERT_TRUE((*vault)->get("PASSWORD"));
  // "password1" is replaced whole, not as "***word1".
  EXPECT_EQ((*vault)->redact(std::string("abc password1 pass")), "abc *** ***");
}

TEST(Vault, RedactsNestedJsonStringsAndKeys) {
  auto vault = Vault::open();
  ASSERT_TRUE(vault);
  (*vault)->put("TOKEN", "tok-98765");
  ASSERT_TRUE((*vault)->get("TOKEN"));
  Json value = {
      {"headers", {{"Authorization", "Bearer tok-98765"}}},
      {"list", {1, "tok-98765", {{"deep", "x tok-98765 y"}}}},
      {"tok-98765", true},
      {"count", 98765},
  };
  Json redacted = (*vault)->redact(value);
  EXPECT_EQ(redacted["headers"]["Authorization"], "Bearer ***");
  EXPECT_EQ(redacted["list"][0], 1);
  EXPECT_EQ(redacted["list"][1], "***");
  EXPECT_EQ(redacted["list"][2]["deep"], "x *** y");
  EXPECT_TRUE(redacted.contains("***"));
  EXPECT_FALSE(redacted.contains("tok-98765"));
  EXPECT_EQ(redacted["count"], 98765);
  EXPECT_EQ(redacted.dump().find("tok-98765"), std::string::npos);
}

}  // namespace
}  // namespace ergon
