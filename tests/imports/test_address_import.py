"""Importing the structured address (issue 18 §6): the parts checked as the customer form checks them, and the
old free-text `address` column read as the street line."""


def test_an_import_fills_the_address_columns_and_refuses_an_unknown_province(acme, run_import, customers):
    rows = [["姓名", "省份", "城市", "区县", "详细地址", "邮编"],
            ["Imported Li", "广东", "深圳", "南山区", "科技园路1号", "518057"],
            ["Imported Bad", "火星省", "", "", "1 Road", ""],
            ["Imported Street", "", "", "", "人民路 8 号", ""]]
    fields = {"姓名": "name", "省份": "region", "城市": "city", "区县": "district", "详细地址": "street", "邮编": "postcode"}
    done = run_import(acme, rows, fields, match_on="name_company")
    assert (done.counts["created"], done.counts["errors"]) == (2, 1)
    found = customers(acme)
    li = found["Imported Li"]
    assert (li.country, li.region, li.city, li.district, li.street, li.postcode) == (
        "CN", "广东省", "深圳市", "南山区", "科技园路1号", "518057")
    assert (found["Imported Street"].country, found["Imported Street"].street) == ("CN", "人民路 8 号")
    assert "Imported Bad" not in found


def test_the_old_address_column_of_an_import_is_the_street(acme, run_import, customers):
    done = run_import(acme, [["name", "address"], ["Old Style", "上海市浦东新区世纪大道100号"]],
                      {"name": "name", "address": "address"}, match_on="name_company")
    assert done.counts["created"] == 1
    assert customers(acme)["Old Style"].street == "上海市浦东新区世纪大道100号"


def test_the_country_column_takes_codes_and_names_in_either_language(acme, run_import, customers):
    rows = [["name", "国家", "州", "城市", "address"],
            ["In Boston", "United States", "MA", "Boston", "1 Main St"],
            ["In Munich", "德国", "Bayern", "München", "Marienplatz 1"],
            ["In Lyon", "fr", "", "Lyon", ""],
            ["In Atlantis", "Atlantis", "", "", ""]]
    fields = {"name": "name", "国家": "country", "州": "region", "城市": "city", "address": "address"}
    done = run_import(acme, rows, fields, match_on="name_company")
    assert (done.counts["created"], done.counts["errors"]) == (3, 1)
    found = customers(acme)
    assert [(found[n].country, found[n].city) for n in ("In Boston", "In Munich", "In Lyon")] == [
        ("US", "Boston"), ("DE", "München"), ("FR", "Lyon")]
    assert found["In Boston"].street == "1 Main St" and "In Atlantis" not in found
